"""The audit trail: who read or changed which patron's personal data, when, and from where.

Records never hold personal data themselves: they name the patron by internal id and
pseudonymous key, and list the *names* of fields changed, never their values. Records form a
hash chain (``seq``, ``prev_hash``, ``hash``; see :mod:`libcrm.privacy.chain`), appended only
through :mod:`libcrm.privacy.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    LOGIN = "login", _("Signed in")
    LOGIN_FAILED = "login_failed", _("Failed sign-in")
    LOGOUT = "logout", _("Signed out")
    SEARCH_PATRONS = "search_patrons", _("Searched patrons")
    VIEW_PATRON = "view_patron", _("Viewed a patron")
    REVEAL_IDENTIFIER = "reveal_identifier", _("Revealed an identifier")
    CREATE_PATRON = "create_patron", _("Created a patron")
    UPDATE_PATRON = "update_patron", _("Changed a patron")
    ADD_IDENTIFIER = "add_identifier", _("Added an identifier")
    REMOVE_IDENTIFIER = "remove_identifier", _("Removed an identifier")
    CHANGE_HOUSEHOLD = "change_household", _("Changed a household")
    CREATE_TOKEN = "create_token", _("Created an API token")
    REVOKE_TOKEN = "revoke_token", _("Revoked an API token")
    CREATE_STAFF = "create_staff", _("Created a staff account")
    CHANGE_STAFF = "change_staff", _("Changed a staff account")
    ROTATE_KEYS = "rotate_keys", _("Rotated encryption keys")
    CHANGE_ORGANISATION = "change_organisation", _("Changed a branch or department")
    INGEST_EVENTS = "ingest_events", _("Imported interaction data")
    EXPORT = "export", _("Exported data")
    DENIED = "denied", _("Access denied")
    # identity linkage (issue 4)
    LINK_RUN = "link_run", _("Ran identity linkage")
    REVIEW_MATCH = "review_match", _("Reviewed a possible duplicate")
    MERGE_PATRONS = "merge_patrons", _("Merged two patrons")
    UNMERGE_PATRONS = "unmerge_patrons", _("Undid a merge")
    # insight (issue 5)
    CHANGE_SEGMENT = "change_segment", _("Changed a tag or segment")
    VIEW_PERSONA = "view_persona", _("Viewed a persona")
    # privacy workflows (issue 6)
    PORTAL_LOGIN = "portal_login", _("Patron signed in to the portal")
    PORTAL_LOGIN_FAILED = "portal_login_failed", _("Failed patron sign-in")
    PASSWORD_RESET = "password_reset", _("Reset a password")
    CHANGE_CONSENT = "change_consent", _("Changed a consent")
    EXPORT_SUBJECT = "export_subject", _("Exported a patron's data")
    CORRECT_PATRON = "correct_patron", _("Corrected a patron's data")
    ERASE_PATRON = "erase_patron", _("Erased a patron")
    RETENTION_RUN = "retention_run", _("Applied retention policies")
    MFA_ENROL = "mfa_enrol", _("Set up two-factor sign-in")
    MFA_FAILED = "mfa_failed", _("Failed two-factor check")
    MFA_RESET = "mfa_reset", _("Reset two-factor sign-in")
    LOCKOUT = "lockout", _("Locked out after failed sign-ins")
    REAUTHENTICATE = "reauthenticate", _("Confirmed identity again")
    APPROVE_EXPORT = "approve_export", _("Approved a bulk export")
    BACKUP = "backup", _("Wrote a backup")
    RESTORE = "restore", _("Restored from a backup")
    VERIFY_AUDIT = "verify_audit", _("Verified the audit chain")


class AuditEvent(models.Model):
    # Set by the service before sealing (auto_now_add would overwrite it after the seal).
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150)
    via = models.CharField(max_length=16)
    action = models.CharField(max_length=32, choices=AuditAction.choices, db_index=True)
    patron = models.ForeignKey(
        "patrons.Patron", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    patron_key = models.CharField(max_length=32, blank=True, db_index=True)
    target = models.CharField(max_length=120, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # The chain: position, the seal of the record before, keyed digests of the two fields that
    # erasure may blank, and this record's seal over all of it.
    seq = models.BigIntegerField(unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    patron_digest = models.CharField(max_length=64, blank=True, editable=False)
    target_digest = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["-at", "-id"]
        permissions = [("browse_audit", "Can browse the audit trail")]
        indexes = [
            models.Index(fields=["actor_label", "at"]),
            models.Index(fields=["patron", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.target}"
