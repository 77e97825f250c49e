"""The patron portal's own records: a patron's sign-in account and recent failed sign-ins.

Patrons are not staff users: their accounts live here, apart from ``django.contrib.auth``, and
their sessions carry a portal key of their own (see :mod:`libcrm.portal.session`).
"""

from __future__ import annotations

from django.db import models


class PortalAccount(models.Model):
    """A patron's portal password (an Argon2id hash) and sign-in counters. Created when the
    patron first sets a password from an e-mailed link."""

    patron = models.OneToOneField(
        "patrons.Patron", on_delete=models.CASCADE, related_name="portal_account"
    )
    password = models.CharField(max_length=256)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login = models.DateTimeField(null=True, blank=True)
    failed_count = models.PositiveIntegerField(default=0)
    last_failed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"portal account of patron {self.patron_id}"


class FailedSignIn(models.Model):
    """One failed sign-in, counted per card and per address for throttling. ``key`` is a keyed
    hash of the card number or address, never the value; rows older than the window go."""

    class Scope(models.TextChoices):
        CARD = "card"
        ADDRESS = "address"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    key = models.CharField(max_length=64)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["scope", "key", "at"])]

    def __str__(self) -> str:
        return f"failed sign-in ({self.scope}) at {self.at:%Y-%m-%d %H:%M}"
