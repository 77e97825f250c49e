"""The access-control matrix: every console route × every role, every API operation × every
token scope, checked against the hand-written expectations of ``tests/access_rules.py``.

Routes are enumerated from the URL configuration and operations from the OpenAPI schema, so a
new page or operation without a rule fails here. A route is *allowed* for a role when the answer
is anything but 403/401 or a bounce to the sign-in page (a 404 for a missing object still means
the door was open); *denied* means exactly 403 for a signed-in role and the sign-in page for a
visitor. Views that only accept POST are tried with an empty POST, which must be refused before
anything is done.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests import access_rules as rules

LOGIN_PREFIXES = ("/accounts/login/", "/portal/login/", "/portal/signin/")


def _walk(patterns: list[Any], prefix: str = "", namespace: str | None = None) -> Iterator[tuple]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace
            full = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), full)
        elif isinstance(pattern, URLPattern):
            if pattern.name is None:
                continue
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, prefix + str(pattern.pattern)


def console_routes() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for name, route in _walk(get_resolver().url_patterns):
        if re.match(r"^api/v\d+/", route):  # API operations: see the OpenAPI matrix below
            continue
        seen.setdefault(name, route)
    return sorted(seen.items())


ROUTES = console_routes()


def test_every_route_has_a_rule() -> None:
    missing = [name for name, _route in ROUTES if name not in rules.CONSOLE]
    assert not missing, (
        "routes without an access rule — add them to tests/access_rules.py: " + ", ".join(missing)
    )
    stale = sorted(set(rules.CONSOLE) - {name for name, _route in ROUTES})
    assert not stale, "rules for routes that no longer exist: " + ", ".join(stale)


@pytest.fixture
def objects(make_patron: Any, make_staff: Any, actor: Any) -> dict[str, Any]:
    """One real object of each kind the routes address, so allowed roles reach the view."""
    patron = make_patron()
    return {
        "patron": patron,
        "identifier": patron.identifiers.first(),
        "staff": make_staff(rules.DESK),
    }


def _url(route: str, objects: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "str", match.group(2)
        if converter == "uuid":
            return str(objects["patron"].uuid) if name == "uuid" else str(uuid.uuid4())
        if converter == "int":
            if name == "pk" and "identifiers" in route:
                return str(objects["identifier"].pk)
            if name == "pk" and route.startswith("staff/"):
                return str(objects["staff"].pk)
            return "1"
        if converter == "path":
            return "x"
        return "x"

    path = re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)
    path = path.replace("^", "").replace("$", "")
    return "/" + path


def _outcome(response: Any) -> str:
    if response.status_code in (401, 403):
        return "denied"
    if response.status_code in (301, 302, 303):
        location = response.headers.get("Location", "")
        if any(location.startswith(p) or p in location for p in LOGIN_PREFIXES):
            return "to-login"
    return "allowed"


def _visit(client: Client, url: str) -> Any:
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    return response


def _sign_in(client: Client, user: Any) -> None:
    from libcrm.staff.testing import sign_in_fully

    sign_in_fully(client, user)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "route"), ROUTES, ids=[name for name, _r in ROUTES])
def test_route_answers_each_role_as_the_rules_say(
    name: str, route: str, objects: dict[str, Any], make_staff: Any
) -> None:
    rule = rules.CONSOLE.get(name)
    if rule is None or rule == rules.SKIP:
        pytest.skip("no rule (reported by test_every_route_has_a_rule) or not a page")
    url = _url(route, objects)
    wrong: list[str] = []
    anonymous = _outcome(_visit(Client(), url))
    if rule == rules.PUBLIC:
        if anonymous == "denied":  # a public page may still send a visitor on (sign-out)
            wrong.append("visitor: denied, expected allowed")
        assert not wrong, f"{name} {url}: " + "; ".join(wrong)
        return
    if anonymous == "allowed":
        wrong.append("visitor: allowed, expected the sign-in page")
    for role in rules.ROLES:
        client = Client()
        _sign_in(client, make_staff(role))
        got = _outcome(_visit(client, url))
        if rule == rules.PORTAL:
            expected = "not allowed"
            if got == "allowed":
                wrong.append(f"{role}: a staff session opened a patron portal page")
            continue
        expected = "allowed" if role in rule else "denied"
        if got != expected:
            wrong.append(f"{role}: {got}, expected {expected}")
    assert not wrong, f"{name} {url}: " + "; ".join(wrong)


# --- the API ------------------------------------------------------------------------------------


def _operations() -> list[tuple[str, str, str]]:
    from libcrm.api.router import api

    schema = api.get_openapi_schema()
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            op_id = operation["operationId"].removeprefix("libcrm_").split("_api_")[-1]
            found.append((op_id, method.upper(), path))
    return sorted(found)


OPERATIONS = _operations()


def _operation_name(op_id: str) -> str:
    for name in rules.API:
        if op_id == name or op_id.endswith("_" + name):
            return name
    return op_id


def test_every_api_operation_has_a_rule() -> None:
    missing = [op for op, _m, _p in OPERATIONS if _operation_name(op) not in rules.API]
    assert not missing, "API operations without a rule in tests/access_rules.py: " + ", ".join(
        missing
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("op_id", "method", "path"), OPERATIONS, ids=[o for o, _m, _p in OPERATIONS]
)
def test_api_operation_answers_each_scope_as_the_rules_say(
    op_id: str, method: str, path: str, objects: dict[str, Any], actor: Any
) -> None:
    from libcrm.api.models import Scope
    from libcrm.api.services import create_api_token

    rule = rules.API.get(_operation_name(op_id))
    if rule is None:
        pytest.skip("no rule (reported by test_every_api_operation_has_a_rule)")
    url = re.sub(
        r"\{(\w+)\}",
        lambda m: str(objects["patron"].uuid) if m.group(1) == "uuid" else "1",
        path,
    )
    wrong: list[str] = []

    def call(headers: dict[str, str]) -> Any:
        body = "{}" if method in ("POST", "PATCH", "PUT") else None
        return Client().generic(
            method, url, data=body or "", content_type="application/json", headers=headers
        )

    anonymous = call({})
    if rule == rules.PUBLIC:
        assert anonymous.status_code not in (401, 403), f"{op_id}: {anonymous.status_code}"
        return
    if anonymous.status_code != 401:
        wrong.append(f"no token: {anonymous.status_code}, expected 401")
    every = list(Scope.values)
    trials = [(every, True)]  # a token holding every scope gets in …
    for needed in sorted(rule):  # … and one lacking any needed scope does not,
        trials.append(([s for s in every if s != needed], False))
    for other in every:  # … nor does one holding a single scope when more are needed
        trials.append(([other], rule == frozenset({other})))
    for scopes, expected in trials:
        _token, secret = create_api_token(actor, "matrix", scopes)
        response = call({"Authorization": f"Bearer {secret}"})
        allowed = response.status_code not in (401, 403)
        if allowed != expected:
            want = "allowed" if expected else "403"
            wrong.append(f"scopes {scopes}: {response.status_code}, expected {want}")
    assert not wrong, f"{method} {path}: " + "; ".join(wrong)
