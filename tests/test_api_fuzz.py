"""The API fuzzed from its own OpenAPI schema (schemathesis): every operation, with generated
valid and invalid bodies, paths and queries, sent through the real WSGI application with a
token holding every scope. Whatever the input, the answer is never a server error — bad input
gets a 4xx in the one error shape."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.slow

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
SENT: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Any:
    """Django's test client stops the end of a request from closing the database connection;
    schemathesis calls the WSGI app directly, so do the same (else, on PostgreSQL, the first
    response would close the connection the test's transaction lives on)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db: Any) -> str:
    from libcrm.api.models import Scope
    from libcrm.api.services import create_api_token
    from libcrm.privacy.actors import Actor

    return create_api_token(Actor.system("fuzz"), "fuzz", Scope.values)[1]


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_makes_the_api_fail(case: Any, token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    SENT[f"{case.method} {case.path}"] += 1
    SENT["total"] += 1
    if response.status_code >= 500:
        SENT["5xx"] += 1
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: "
        f"{response.text[:500]}"
    )
    if response.status_code >= 400 and response.headers.get("Content-Type", [""])[0].startswith(
        "application/json"
    ):
        body = json.loads(response.text)
        assert "error" in body and {"code", "message"} <= set(body["error"]), body


def test_report_what_was_sent() -> None:
    """Not a check: prints the figure for the closing note (requests sent, 5xx seen)."""
    print(f"\nAPI fuzz: {SENT['total']} requests, {SENT['5xx']} server errors")
