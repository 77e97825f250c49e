"""The API of data-subject requests: export as a ZIP with the right scopes, erasure with its own
scope and a reason from the list; refusals change nothing."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from libcrm.api.services import create_api_token
from libcrm.patrons.models import Patron
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db


def _client(*scopes: str) -> Client:
    _token, secret = create_api_token(Actor.system("test"), "dsr", list(scopes))
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_export_over_the_api(make_patron: Callable[..., Any]) -> None:
    patron = make_patron(name="Api Person")
    url = f"/api/v1/patrons/{patron.uuid}/export"
    assert _client("patrons:read").get(url).status_code == 403  # identifiers in full: reveal
    response = _client("patrons:read", "patrons:reveal").get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    data = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("patron.json"))
    assert data["patron"]["name"] == "Api Person"
    record = AuditEvent.objects.get(action=AuditAction.EXPORT_SUBJECT)
    assert record.via == "api"


def test_erasure_over_the_api(make_patron: Callable[..., Any]) -> None:
    patron = make_patron()
    url = f"/api/v1/patrons/{patron.uuid}/erase"
    client = _client("patrons:erase")
    every_other = _client("patrons:read", "patrons:write", "patrons:reveal")
    body = json.dumps({"reason": "patron_request"})
    assert every_other.post(url, body, content_type="application/json").status_code == 403
    bad = client.post(url, json.dumps({"reason": "Zhang asked"}), content_type="application/json")
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["path"] == "body.reason"
    assert Patron.objects.filter(pk=patron.pk).exists()
    done = client.post(url, body, content_type="application/json")
    assert done.status_code == 200 and done.json()["records"] == 1
    assert not Patron.objects.filter(pk=patron.pk).exists()
    again = client.post(url, body, content_type="application/json")
    assert again.status_code == 404
