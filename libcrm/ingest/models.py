"""Ingestion runs (what was imported, by whom, with what result) and aggregate e-resource usage
from COUNTER reports, which is kept apart from per-patron events."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")


class IngestionRun(models.Model):
    """One import of one file or request. Its rejects are in a CSV report in the data folder
    (``LIBCRM_DATA_DIR/rejects/<id>.csv``): file, line, field, reason — never a value in full."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=64)
    format = models.CharField(max_length=32)
    file_name = models.CharField(max_length=255, blank=True)
    content_digest = models.CharField(max_length=64, blank=True, db_index=True)
    same_as = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="An identical file already imported in full: nothing was read again.",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING)
    received = models.PositiveBigIntegerField(default=0)
    added = models.PositiveBigIntegerField(default=0)
    duplicates = models.PositiveBigIntegerField(default=0)
    rejected = models.PositiveBigIntegerField(default=0)
    provisional = models.PositiveIntegerField(default=0)
    usage_rows = models.PositiveIntegerField(default=0)
    notices = models.JSONField(default=list, blank=True)
    batch_ids = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.source}/{self.format} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ResourceUsage(models.Model):
    """One COUNTER figure: a metric of a title or database on a platform in a month."""

    usage_id = models.CharField(max_length=64, unique=True)
    report_id = models.CharField(max_length=8)
    release = models.CharField(max_length=8)
    platform = models.CharField(max_length=200)
    title = models.CharField(max_length=500, blank=True)
    database = models.CharField(max_length=300, blank=True)
    publisher = models.CharField(max_length=300, blank=True)
    identifiers = models.JSONField(default=dict, blank=True)
    metric_type = models.CharField(max_length=64)
    month = models.DateField(db_index=True)
    count = models.PositiveBigIntegerField()
    source = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "platform", "title"]
        indexes = [models.Index(fields=["platform", "month"])]

    def __str__(self) -> str:
        return f"{self.platform} {self.title or self.database} {self.metric_type} {self.month}"
