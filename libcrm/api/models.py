"""Scoped API tokens for machine clients (an ILS, a gate system, the WeChat bridge).

Only a SHA-256 of the secret is stored; the secret is shown once, when the token is created.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    PATRONS_READ = "patrons:read", _("Read patrons (identifiers masked)")
    PATRONS_WRITE = "patrons:write", _("Create and change patrons")
    PATRONS_REVEAL = "patrons:reveal", _("Read identifiers in full")
    EVENTS_WRITE = "events:write", _("Import interaction events")
    LINKAGE_REVIEW = "linkage:review", _("Review possible duplicates, merge and unmerge patrons")
    PATRONS_ERASE = "patrons:erase", _("Erase patrons (data-subject requests)")
    SEGMENTS_READ = "segments:read", _("Read tags and segments, their sizes and rules")
    SEGMENTS_WRITE = "segments:write", _("Define tags and segments")


class ApiToken(models.Model):
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("manage_tokens", "Can create and revoke API tokens")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
