"""Consent (同意): what a patron allowed the library to do with their data, purpose by purpose.

Every change is a new :class:`ConsentRecord` naming the :class:`ConsentWording` version the
patron (or their guardian) agreed to; records are never edited, so the history is the record
itself. The latest record of a (patron, purpose) pair carries ``current=True`` — a partial unique
constraint keeps exactly one — so "may we?" is one indexed lookup.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Purpose(models.TextChoices):
    """What a patron can say yes or no to. Outreach is asked per channel: agreeing to e-mail
    is not agreeing to WeChat."""

    ANALYTICS = "analytics", _("Usage statistics (pseudonymous)")
    PERSONALISATION = "personalisation", _("Personalised recommendations")
    OUTREACH_EMAIL = "outreach_email", _("News and invitations by e-mail")
    OUTREACH_SMS = "outreach_sms", _("News and invitations by text message")
    OUTREACH_WECHAT = "outreach_wechat", _("News and invitations on WeChat")
    OUTREACH_WEIBO = "outreach_weibo", _("News and invitations on Weibo")
    LOAN_HISTORY = "loan_history", _("Keep my loan history")
    RESEARCH = "research", _("Research use of my data")


OUTREACH_PURPOSES: dict[str, str] = {
    "email": Purpose.OUTREACH_EMAIL,
    "sms": Purpose.OUTREACH_SMS,
    "wechat": Purpose.OUTREACH_WECHAT,
    "weibo": Purpose.OUTREACH_WEIBO,
}
"""Outreach purpose per channel code (``libcrm.events.schema.Channel`` names; ``sms`` is the
text-message side of the ``phone`` channel)."""


class ConsentVia(models.TextChoices):
    PORTAL = "portal", _("Patron portal")
    STAFF = "staff", _("Library staff")
    IMPORT = "import", _("Imported")
    MERGE = "merge", _("Merge of duplicate records")


class ConsentWording(models.Model):
    """One published version of what the patron is asked, in both languages. A new version is a
    new row; a record keeps pointing at the version its patron actually read."""

    purpose = models.CharField(max_length=24, choices=Purpose.choices)
    version = models.PositiveIntegerField()
    text_en = models.TextField()
    text_zh = models.TextField()
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["purpose", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "version"], name="consent_wording_version"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} v{self.version}"

    def text(self, language: str | None) -> str:
        return self.text_zh if (language or "").startswith("zh") else self.text_en


class ConsentRecord(models.Model):
    """One yes or no, with the wording, the moment, the way it reached us and who entered it.
    ``guardian`` is the parent or guardian who decided for a child under 14."""

    patron = models.ForeignKey(
        "patrons.Patron", on_delete=models.CASCADE, related_name="consent_records"
    )
    purpose = models.CharField(max_length=24, choices=Purpose.choices)
    granted = models.BooleanField()
    wording = models.ForeignKey(ConsentWording, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=8, choices=ConsentVia.choices)
    actor_label = models.CharField(max_length=150)
    guardian = models.ForeignKey(
        "patrons.Patron",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consents_given_as_guardian",
    )
    current = models.BooleanField(default=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patron", "purpose"],
                condition=Q(current=True),
                name="consent_one_current_per_purpose",
            ),
        ]
        indexes = [
            models.Index(fields=["patron", "purpose", "at"]),
            models.Index(fields=["purpose", "current", "granted"]),
        ]

    def __str__(self) -> str:
        return f"{self.purpose}={'yes' if self.granted else 'no'} for patron {self.patron_id}"
