"""The API describes itself: OpenAPI schema, browsable docs, and an index at /api/."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_openapi_schema_lists_every_v1_operation_with_bearer_auth(client: Client) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    assert set(paths["/api/v1/patrons"]) == {"get", "post"}
    assert set(paths["/api/v1/patrons/{uuid}"]) == {"get", "patch"}
    assert set(paths["/api/v1/patrons/lookup"]) == {"post"}
    assert set(paths["/api/v1/patrons/{uuid}/identifiers"]) == {"post"}
    assert set(paths["/api/v1/patrons/{uuid}/identifiers/{identifier_id}"]) == {"delete"}
    assert "security" not in paths["/api/v1/health"]["get"]
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    listing = paths["/api/v1/patrons"]["get"]
    assert "patrons:read" in listing["description"]
    assert {"200", "401", "403", "422"} <= set(listing["responses"])
    kinds = schema["components"]["schemas"]["IdentifierIn"]["properties"]["kind"]["enum"]
    assert "phone" in kinds and "national_id" in kinds


def test_docs_page_is_served(client: Client) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert b"/api/openapi.json" in response.content


def test_api_index_points_to_docs_and_schema(client: Client) -> None:
    index = client.get("/api/").json()
    assert index["docs"].endswith("/api/docs")
    assert index["openapi"].endswith("/api/openapi.json")
    assert index["versions"] == ["v1"]
