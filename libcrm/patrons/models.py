"""The patron registry (M1) and patrons' identifiers (M2 groundwork).

Personal data — names, contact values, identifiers, addresses, notes — is stored encrypted
(:class:`~libcrm.privacy.fields.EncryptedTextField`); exact-match search goes through keyed
digests in :class:`Identifier` and :class:`NameTerm`. Everything analytics may see (category,
department, birth year, branch, status) stays in the clear, keyed by the pseudonymous
``patron_key``.
"""

from __future__ import annotations

import uuid
from datetime import date

from django.db import models
from django.utils.translation import gettext_lazy as _

from libcrm.patrons.identifiers import IdentifierKind, mask
from libcrm.privacy.fields import EncryptedTextField


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNDISCLOSED = "undisclosed", _("Not disclosed")


class PatronCategory(models.TextChoices):
    UNDERGRADUATE = "undergraduate", _("Undergraduate")
    POSTGRADUATE = "postgraduate", _("Postgraduate")
    FACULTY = "faculty", _("Faculty")
    STAFF = "staff", _("Staff")
    RESIDENT = "resident", _("Resident")
    CHILD = "child", _("Child")
    VISITOR = "visitor", _("Visitor")
    ALUMNUS = "alumnus", _("Alumnus")


class PatronStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PROVISIONAL = "provisional", _("Provisional (awaiting review)")
    SUSPENDED = "suspended", _("Suspended")
    EXPIRED = "expired", _("Expired")
    CLOSED = "closed", _("Closed")
    MERGED = "merged", _("Merged into another record")


class Discipline(models.TextChoices):
    """学科门类: the fourteen discipline categories of the Chinese degree catalogue."""

    PHILOSOPHY = "philosophy", _("Philosophy")
    ECONOMICS = "economics", _("Economics")
    LAW = "law", _("Law")
    EDUCATION = "education", _("Education")
    LITERATURE = "literature", _("Literature")
    HISTORY = "history", _("History")
    SCIENCE = "science", _("Science")
    ENGINEERING = "engineering", _("Engineering")
    AGRICULTURE = "agriculture", _("Agriculture")
    MEDICINE = "medicine", _("Medicine")
    MILITARY = "military", _("Military science")
    MANAGEMENT = "management", _("Management")
    ART = "art", _("Art")
    INTERDISCIPLINARY = "interdisciplinary", _("Interdisciplinary")


class HouseholdRole(models.TextChoices):
    HEAD = "head", _("Head of household")
    PARTNER = "partner", _("Partner")
    CHILD = "child", _("Child")
    GUARDIAN = "guardian", _("Guardian")
    OTHER = "other", _("Other member")


IDENTIFIER_KIND_LABELS = {
    IdentifierKind.LIBRARY_CARD: _("Library card"),
    IdentifierKind.CAMPUS_ID: _("Campus ID"),
    IdentifierKind.EMAIL: _("E-mail"),
    IdentifierKind.PHONE: _("Phone"),
    IdentifierKind.WECHAT_OPENID: _("WeChat openid"),
    IdentifierKind.WECHAT_UNIONID: _("WeChat unionid"),
    IdentifierKind.WEIBO_ID: _("Weibo id"),
    IdentifierKind.DOUYIN_ID: _("Douyin id"),
    IdentifierKind.NATIONAL_ID: _("National ID (hashed)"),
    IdentifierKind.OTHER: _("Other"),
}


class Branch(models.Model):
    """A library building or service point (总馆, 分馆, a community point)."""

    code = models.SlugField(max_length=32, unique=True)
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "branches"

    def __str__(self) -> str:
        from django.utils.translation import get_language

        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en


class Department(models.Model):
    """A school, faculty or unit (院系) patrons belong to."""

    code = models.SlugField(max_length=32, unique=True)
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    discipline = models.CharField(max_length=20, choices=Discipline.choices, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        from django.utils.translation import get_language

        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en


class Household(models.Model):
    """Patrons who live together (a family card, a 邻里图书馆 host family)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    label = EncryptedTextField()
    address = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.label


class Patron(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patron_key = models.CharField(max_length=32, unique=True, editable=False)
    name = EncryptedTextField()
    gender = models.CharField(max_length=12, choices=Gender.choices, default=Gender.UNDISCLOSED)
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    category = models.CharField(max_length=16, choices=PatronCategory.choices, db_index=True)
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="patrons"
    )
    discipline = models.CharField(max_length=20, choices=Discipline.choices, blank=True)
    research_specialty = models.CharField(max_length=200, blank=True)
    home_branch = models.ForeignKey(
        Branch, null=True, blank=True, on_delete=models.PROTECT, related_name="patrons"
    )
    registered_on = models.DateField(default=date.today)
    expires_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=PatronStatus.choices, default=PatronStatus.ACTIVE, db_index=True
    )
    address = EncryptedTextField(blank=True, default="")
    notes = EncryptedTextField(blank=True, default="")
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    household_role = models.CharField(max_length=10, choices=HouseholdRole.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-registered_on", "-id"]
        permissions = [
            ("view_personal_data", "Can see patrons' personal data"),
            ("reveal_identifier", "Can reveal a patron's identifier in full"),
            ("view_aggregates", "Can see aggregate figures about patrons"),
        ]
        indexes = [models.Index(fields=["department", "category"])]

    def __str__(self) -> str:
        return self.patron_key

    def age_on(self, day: date) -> int | None:
        return None if self.birth_year is None else day.year - self.birth_year


class Identifier(models.Model):
    """One way of recognising a patron: a card, an account on a channel, a contact address.

    ``digest`` is the keyed blind index of the normalised value; (kind, digest) is unique, so one
    identifier can never belong to two patrons. National IDs keep the digest only.
    """

    patron = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(max_length=16, choices=list(IDENTIFIER_KIND_LABELS.items()))
    value = EncryptedTextField(null=True, blank=True)
    digest = models.CharField(max_length=64)
    source = models.CharField(max_length=64, blank=True)
    verified = models.BooleanField(default=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "digest"], name="identifier_unique_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.masked}"

    @property
    def masked(self) -> str:
        return mask(self.kind, self.value)


class NameTerm(models.Model):
    """A keyed digest of one search term of a patron's name (see :mod:`libcrm.patrons.names`)."""

    patron = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="name_terms")
    digest = models.CharField(max_length=64, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patron", "digest"], name="name_term_unique"),
        ]

    def __str__(self) -> str:
        return f"name term of patron {self.patron_id}"
