"""The content security policy in a real browser: the console's pages load without a single
violation (no inline script or style slipped back in), charts still draw their bars, and the
audit page's Verify chain button works."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.test_console import sign_in


def test_console_pages_raise_no_policy_violations(
    page: Any,
    make_staff: Callable[..., Any],
    make_patron: Callable[..., Any],
    settings: Any,
    tmp_path: Path,
) -> None:
    # Earlier browser tests' records were flushed with their database; their checkpoint was not.
    settings.LIBCRM_AUDIT_CHECKPOINT = tmp_path / "checkpoint.json"
    make_staff("administrator", username="ada")
    for _ in range(3):
        make_patron()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_in(page, "ada")
    for path in ["/", "/patrons/", "/events/", "/audit/", "/api/docs"]:
        page.goto(page.base_url + path)
        page.wait_for_load_state("networkidle")
    assert violations == []

    # Bar lengths come from classes now (style attributes are refused): they still apply.
    page.goto(page.base_url + "/")
    width = page.evaluate(
        """() => {
            const track = document.createElement("div");
            track.style.width = "200px";  // CSSOM from a script file is allowed, unlike markup
            track.innerHTML = '<span class="bar pw-37"></span>';
            document.body.append(track);
            return track.firstChild.getBoundingClientRect().width;
        }"""
    )
    assert width == 74

    page.goto(page.base_url + "/audit/")
    page.click("text=Verify chain")
    expect(page.locator(".messages")).to_contain_text("The audit chain is intact")
    assert violations == []
