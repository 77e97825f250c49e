"""Library staff (M14 groundwork, M15 sign-in security): a profile beside Django's user holding
the staff role, the second factor (TOTP and recovery codes), sign-in attempts for throttling,
and bulk exports of personal data waiting for a second approver."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from libcrm.privacy.fields import EncryptedTextField


class StaffProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    display_name = models.CharField(max_length=100, blank=True)
    library_department = models.CharField(max_length=100, blank=True)

    class Meta:
        permissions = [("manage_staff", "Can create staff accounts and assign roles")]

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()


class TotpDevice(models.Model):
    """A staff member's authenticator app (RFC 6238, 30-second steps, six digits).

    The shared secret is encrypted at rest; ``last_step`` is the time step of the last code
    accepted, so the same code (or an older one) is never accepted twice.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = EncryptedTextField()
    confirmed = models.BooleanField(default=False)
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"TOTP for staff:{self.user_id}"


class RecoveryCode(models.Model):
    """A single-use code for a lost phone, stored only as a password hash."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=200)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"recovery code {self.pk} of staff:{self.user_id}"


class AttemptStep(models.TextChoices):
    PASSWORD = "password", _("Password")
    SECOND_FACTOR = "second_factor", _("Second factor")
    REAUTHENTICATE = "reauthenticate", _("Re-authentication")


class LoginAttempt(models.Model):
    """One sign-in attempt, kept in the database so throttling holds across processes.

    ``account`` is a keyed digest of the lowercased username typed, never the name itself: it
    may be a patron's phone number typed into the wrong box.
    """

    account = models.CharField(max_length=64, db_index=True)
    ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    success = models.BooleanField(default=False)
    step = models.CharField(max_length=16, choices=AttemptStep.choices)

    class Meta:
        indexes = [models.Index(fields=["account", "at"]), models.Index(fields=["ip", "at"])]

    def __str__(self) -> str:
        return f"{self.step} {'ok' if self.success else 'failed'} {self.at:%Y-%m-%d %H:%M}"


class ExportKind(models.TextChoices):
    PATRON_LIST = "patron_list", _("Patron list with contact details")


class ExportStatus(models.TextChoices):
    REQUESTED = "requested", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    DOWNLOADED = "downloaded", _("Downloaded")
    EXPIRED = "expired", _("Expired")


class ExportRequest(models.Model):
    """A bulk export of personal data: asked for by one staff member, approved by another,
    downloaded once by the first within a day. The file is built at download time and never
    stored. ``parameters`` hold the list filters (codes only); a search text, which may be a
    name or a phone number, is kept encrypted in ``search_text``."""

    kind = models.CharField(max_length=20, choices=ExportKind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    search_text = EncryptedTextField(blank=True, default="")
    status = models.CharField(
        max_length=12, choices=ExportStatus.choices, default=ExportStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="export_requests"
    )
    reason = models.CharField(max_length=200)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="export_decisions",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    downloaded_at = models.DateTimeField(null=True, blank=True)
    row_count = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [("approve_export", "Can approve bulk exports of personal data")]

    def __str__(self) -> str:
        return f"export:{self.pk}"
