"""Tags and segments (标签与用户分群): their definitions, versions and dated snapshots.

A definition's rule is JSON in the language of :mod:`libcrm.segments.rules`; every change makes
a new :class:`SegmentVersion`, so a snapshot always says which rule it counted. The members of
a snapshot are kept in a Parquet file keyed by the pseudonymous ``patron_key`` (see
:mod:`libcrm.segments.storage`), so the relational database holds sizes, not lists.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Segment(models.Model):
    """A tag or a segment. A child segment (``parent``) holds only its parent's members: its
    rule is ANDed with the parent's (研究生 → 一年级研究生 → 计算机学院)."""

    class Kind(models.TextChoices):
        TAG = "tag", _("Tag")
        SEGMENT = "segment", _("Segment")

    slug = models.SlugField(_("identifier"), max_length=80, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SEGMENT)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent segment"),
    )
    current_version = models.ForeignKey(
        "SegmentVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("current version"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.slug


class SegmentVersion(models.Model):
    """One rule a segment has had; never changed once written."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    rule = models.JSONField(_("rule"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["segment", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["segment", "number"], name="segment_version_unique")
        ]
        verbose_name = _("segment version")
        verbose_name_plural = _("segment versions")

    def __str__(self) -> str:
        return f"{self.segment.slug} v{self.number}"


class SegmentSnapshot(models.Model):
    """The members of a segment on one day, counted with one version of its rule."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    version = models.ForeignKey(SegmentVersion, on_delete=models.PROTECT, related_name="+")
    as_of = models.DateField(_("as of"))
    taken_at = models.DateTimeField(_("taken at"), auto_now_add=True)
    size = models.PositiveIntegerField(_("members"))
    engine = models.CharField(max_length=10)
    members_file = models.CharField(max_length=300)  # relative to the segments folder

    class Meta:
        ordering = ["segment", "-taken_at"]
        indexes = [models.Index(fields=["segment", "as_of"])]
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")

    def __str__(self) -> str:
        return f"{self.segment.slug} {self.as_of}: {self.size}"
