"""The catalogue: the items patrons borrow, download, watch and listen to, and the classification
hierarchy their subjects roll up to.

An item is known to events by its stable ``item_id`` (source name + the record's control number),
so re-importing a catalogue updates items in place and never breaks the events that point at
them. Items hold no personal data.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from libcrm.catalog.classification import Scheme
from libcrm.catalog.crosswalk import Material, RecordFormat

SCHEME_LABELS = {
    Scheme.CLC: _("Chinese Library Classification (CLC)"),
    Scheme.LCC: _("Library of Congress Classification (LCC)"),
    Scheme.DDC: _("Dewey Decimal Classification (DDC)"),
}
MATERIAL_LABELS = {
    Material.TEXT: _("Text"),
    Material.IMAGE: _("Image"),
    Material.AUDIO: _("Audio"),
    Material.VIDEO: _("Video"),
    Material.E_RESOURCE: _("E-resource"),
    Material.MAP: _("Map"),
    Material.SCORE: _("Music score"),
    Material.MIXED: _("Mixed materials"),
}
RECORD_FORMAT_LABELS = {
    RecordFormat.MARC21: _("MARC 21"),
    RecordFormat.UNIMARC: _("UNIMARC / CNMARC"),
}


def _choices(labels: dict[Any, Any]) -> list[tuple[str, str]]:
    # Plain strings, so that migrations do not depend on the enums' import paths.
    return [(str(key), label) for key, label in labels.items()]


class Classification(models.Model):
    """A named class of a classification schedule, with its parent (the nearest named
    ancestor). ``tree_path`` ("/T/TP/TP3/") makes "everything under TP" one indexed prefix
    query, on SQLite and PostgreSQL alike."""

    scheme = models.CharField(max_length=8, choices=_choices(SCHEME_LABELS))
    code = models.CharField(max_length=40)
    label_zh = models.CharField(max_length=200)
    label_en = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    tree_path = models.CharField(max_length=1000, db_index=True)
    depth = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["scheme", "tree_path"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "code"], name="classification_unique_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"

    @property
    def label(self) -> str:
        """The label in the active language (简体中文 or English)."""
        return self.label_zh if (get_language() or "").startswith("zh") else self.label_en


class Item(models.Model):
    """One bibliographic record: a book, e-book, recording, video, map or score."""

    item_id = models.CharField(max_length=100, unique=True)
    source = models.CharField(max_length=32, db_index=True)
    control_number = models.CharField(max_length=64)
    record_format = models.CharField(max_length=8, choices=_choices(RECORD_FORMAT_LABELS))
    title = models.TextField()
    subtitle = models.TextField(blank=True, default="")
    authors = models.JSONField(default=list, blank=True)
    isbns = models.JSONField(default=list, blank=True)
    issn = models.CharField(max_length=9, blank=True, default="")
    language = models.CharField(max_length=3, blank=True, default="", db_index=True)
    publication_year = models.PositiveSmallIntegerField(null=True, blank=True)
    publisher = models.TextField(blank=True, default="")
    material_type = models.CharField(
        max_length=12, choices=_choices(MATERIAL_LABELS), db_index=True
    )
    classification_scheme = models.CharField(
        max_length=8, choices=_choices(SCHEME_LABELS), blank=True, default=""
    )
    classification_code = models.CharField(max_length=40, blank=True, default="")
    classification_path = models.CharField(max_length=1000, blank=True, default="", db_index=True)
    top_class = models.CharField(max_length=3, blank=True, default="")
    classification = models.ForeignKey(
        Classification,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="items",
        help_text="The most specific named class that holds the item's class number.",
    )
    class_numbers = models.JSONField(default=list, blank=True)
    subjects = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["item_id"]
        indexes = [models.Index(fields=["classification_scheme", "top_class"])]

    def __str__(self) -> str:
        return f"{self.item_id} {self.title}"


class CatalogImport(models.Model):
    """One run of a MARC import: who ran it, on what, and what became of each record. The
    rejects are kept so that the reject report can be downloaded again later."""

    source = models.CharField(max_length=32)
    file_name = models.CharField(max_length=255)
    actor_label = models.CharField(max_length=150)
    via = models.CharField(max_length=16)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    records_read = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    rejects = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"import {self.pk} of {self.file_name} ({self.source})"
