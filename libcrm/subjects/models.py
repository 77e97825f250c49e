"""Data-subject rights (export, correction, erasure) and retention policies for interaction
events.

Requests themselves leave no rows here: each is an audit record (``EXPORT_SUBJECT``,
``CORRECT_PATRON``, ``ERASE_PATRON``). What is kept is the library's retention policy, one row
per rule, which ``libcrm retention`` applies to the event store.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _


class DataSubjectRights(models.Model):
    """Holds the permissions of data-subject requests; no table (permissions need a model)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("export_patron", "Can export everything about a patron"),
            ("erase_patron", "Can erase a patron"),
        ]

    def __str__(self) -> str:
        return "data-subject rights"


class ErasureReason(models.TextChoices):
    """Why a patron was erased. A fixed list: a free-text reason could name the person, and the
    erasure's audit record must hold no personal data."""

    PATRON_REQUEST = "patron_request", _("The patron asked to be erased")
    GUARDIAN_REQUEST = "guardian_request", _("The patron's guardian asked")
    ACCOUNT_CLOSED = "account_closed", _("Account closed and no longer needed")
    DUPLICATE_TEST = "duplicate_test", _("Test or mistaken record")
    LEGAL_ORDER = "legal_order", _("Legal obligation")


class RetentionAction(models.TextChoices):
    ANONYMISE = "anonymise", _("Anonymise (keep for statistics, detach from the patron)")
    DELETE = "delete", _("Delete")


class RetentionBasis(models.TextChoices):
    EVENT = "event", _("the event")
    RETURN = "return", _("the return of the item")


class RetentionPolicy(models.Model):
    """Events of ``event_types`` (every type when empty) are anonymised or deleted ``age_days``
    after the event — or, for circulation, after the item came back. Patrons who gave the
    ``exempt_consent`` purpose (``loan_history``, say) are spared."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    action = models.CharField(
        _("action"), max_length=10, choices=RetentionAction.choices, default="anonymise"
    )
    age_days = models.PositiveIntegerField(_("age in days"))
    measured_from = models.CharField(
        _("counted from"), max_length=8, choices=RetentionBasis.choices, default="event"
    )
    exempt_consent = models.CharField(_("spared with consent"), max_length=24, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    notes = models.CharField(_("notes"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")
        permissions = [("manage_retention", "Can change and run retention policies")]

    def __str__(self) -> str:
        return self.name

    @property
    def older_than(self) -> timedelta:
        return timedelta(days=self.age_days)
