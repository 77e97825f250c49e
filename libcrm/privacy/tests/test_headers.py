"""Security headers on every page: the content security policy and its companions, and no
template that the policy would break."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import libcrm


def directives(response: Any) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in policy.split(";"))
        if part
    }


@pytest.mark.parametrize(("path", "signed_in"), [("/accounts/login/", False), ("/audit/", True)])
def test_pages_carry_the_policy_and_security_headers(
    client: Any, staff_client: Callable[[str], Any], path: str, signed_in: bool
) -> None:
    response = (staff_client("administrator") if signed_in else client).get(path)
    assert response.status_code == 200
    policy = directives(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert policy["base-uri"] == "'self'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert "microphone=()" in response["Permissions-Policy"]


def test_the_api_answers_with_the_policy_too(client: Any, db: Any) -> None:
    response = client.get("/api/openapi.json")
    assert "default-src 'self'" in response["Content-Security-Policy"]


INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>|<style\b|\sstyle=|\son[a-z]+=",
    re.IGNORECASE,
)


def test_no_template_has_inline_script_style_or_handlers() -> None:
    """The policy refuses inline code and style attributes; a template using them would break."""
    root = Path(libcrm.__file__).parent
    offenders = [
        f"{path.relative_to(root)}: {match.group(0).strip()}"
        for path in root.glob("*/templates/**/*.html")
        for match in INLINE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
