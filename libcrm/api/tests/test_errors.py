"""The one error shape: every failure a client can cause answers in it, with field paths."""

from __future__ import annotations

import pytest

from libcrm.api.errors import path_from_loc, pydantic_message
from libcrm.api.models import Scope
from libcrm.api.tests.helpers import TokenClient, error_of, field_paths, issue_token
from libcrm.patrons.models import Patron

pytestmark = pytest.mark.django_db

PATRONS = "/api/v1/patrons"


@pytest.fixture
def writer() -> TokenClient:
    _token, plaintext = issue_token(Scope.PATRONS_READ, Scope.PATRONS_WRITE)
    return TokenClient(plaintext)


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "payload", "identifiers", 0, "value"), "body.identifiers[0].value"),
        (("body", "payload"), "body"),
        (("query", "limit"), "query.limit"),
        (("path", "uuid"), "path.uuid"),
    ],
)
def test_paths_are_built_from_pydantic_locations(loc: tuple, path: str) -> None:
    assert path_from_loc(loc) == path


def test_pydantic_messages_use_the_registry_vocabulary() -> None:
    assert pydantic_message({"type": "missing"}) == "is required"
    too_long = {"type": "string_too_long", "ctx": {"max_length": 100}}
    assert pydantic_message(too_long) == "must be at most 100 characters"
    choice = {"type": "enum", "ctx": {"expected": "'a', 'b' or 'c'"}}
    assert pydantic_message(choice) == "must be one of: a, b, c"


def test_malformed_json_is_400_and_writes_nothing(writer: TokenClient) -> None:
    response = writer.post(PATRONS, '{"name": "Li Na", "category": ')
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "malformed_json"
    assert "line 1" in error["message"]
    assert not Patron.objects.exists()


def test_body_that_is_not_an_object_is_422_at_body(writer: TokenClient) -> None:
    response = writer.post(PATRONS, ["Li Na"])
    assert response.status_code == 422
    assert field_paths(response) == {"body"}


def test_nul_characters_are_refused_where_they_are(writer: TokenClient) -> None:
    """No field takes a NUL character, and PostgreSQL cannot even compare text with one: a
    search for it must be refused, not fail inside the query (found by the API fuzz test)."""
    response = writer.get(PATRONS, {"home_branch": "\x00", "q": "Li"})
    assert response.status_code == 422
    assert field_paths(response) == {"query.home_branch"}
    body = {"name": "Li\x00Na", "category": "undergraduate",
            "identifiers": [{"kind": "card", "value": "A\x001"}]}  # fmt: skip
    response = writer.post(PATRONS, body)
    assert response.status_code == 422
    assert field_paths(response) == {"body.name", "body.identifiers[0].value"}
    assert "NUL" in error_of(response)["fields"][0]["message"]
    assert not Patron.objects.exists()


def test_a_page_address_with_a_nul_character_is_400(client) -> None:
    response = client.get("/console/patrons/", {"q": "\x00"})
    assert response.status_code == 400 and b"NUL" in response.content


def test_body_that_is_not_utf8_is_400(writer: TokenClient) -> None:
    response = writer.post(PATRONS, b'{"name": "\xff\xfe"}')
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_json"


def test_oversized_payload_is_413_before_it_is_read(writer: TokenClient, settings) -> None:
    settings.LIBCRM_API_MAX_BODY_BYTES = 2_000
    body = {"name": "Li Na", "category": "undergraduate", "notes": "x" * 3_000}
    response = writer.post(PATRONS, body)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert not Patron.objects.exists()


def test_body_over_djangos_own_limit_is_also_413(writer: TokenClient, settings) -> None:
    settings.LIBCRM_API_MAX_BODY_BYTES = 10_000_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    body = {"name": "Li Na", "category": "undergraduate", "notes": "x" * 3_000}
    response = writer.post(PATRONS, body)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert not Patron.objects.exists()


def test_unknown_address_under_api_is_a_json_404() -> None:
    response = TokenClient(None).get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_malformed_patron_uuid_is_a_json_404(writer: TokenClient) -> None:
    response = writer.get(f"{PATRONS}/not-a-uuid")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_a_json_405_with_allow(writer: TokenClient) -> None:
    response = writer.delete(PATRONS)
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert set(response["Allow"].split(", ")) == {"GET", "POST"}


def test_api_follows_accept_language(writer: TokenClient) -> None:
    response = writer.post(PATRONS, {}, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 422
    assert response["Content-Language"] == "zh-hans"
    english = writer.post(PATRONS, {}, headers={"Accept-Language": "en"})
    assert english["Content-Language"] == "en"
    assert {f["path"] for f in error_of(english)["fields"]} == {"body.name", "body.category"}


def test_413_also_follows_accept_language(writer: TokenClient, settings) -> None:
    settings.LIBCRM_API_MAX_BODY_BYTES = 10
    response = writer.post(PATRONS, {"name": "Li Na"}, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 413
    assert response["Content-Language"] == "zh-hans"
