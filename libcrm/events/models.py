"""The batch ledger: one row per append to the event store (ingestion history, M4).

The row is the append's commit point (see :mod:`libcrm.events.store.writer`): a batch whose
files exist but whose row is not committed is rolled back by recovery. It holds counts, file
names and each file's patron-key range (``pk_min``/``pk_max``: bounds that may be real keys,
which erasure widens to the extreme keys) — never event content — so it can be kept as long as
the library wants its ingestion history.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from libcrm.events.store.ledger import BatchState as StoreBatchState


class BatchState(models.TextChoices):
    PENDING = StoreBatchState.PENDING.value, _("Pending")
    COMMITTED = StoreBatchState.COMMITTED.value, _("Committed")
    ROLLED_BACK = StoreBatchState.ROLLED_BACK.value, _("Rolled back")
    SKIPPED = StoreBatchState.SKIPPED.value, _("Skipped (already imported)")


class EventBatch(models.Model):
    """One ledger batch of events appended to one event store."""

    id = models.CharField(primary_key=True, max_length=40)
    store = models.CharField(max_length=36, help_text=_("The event store's id (its manifest)."))
    source = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, help_text=_("SHA-256 of the batch's content."))
    state = models.CharField(max_length=12, choices=BatchState.choices, default=BatchState.PENDING)
    seq = models.BigIntegerField(
        null=True, blank=True, help_text=_("Order in which committed batches became visible.")
    )
    received = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    files = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("event batch")
        verbose_name_plural = _("event batches")
        indexes = [
            models.Index(fields=["store", "digest"], name="eventbatch_store_digest"),
            models.Index(fields=["store", "state"], name="eventbatch_store_state"),
            models.Index(fields=["store", "seq"], name="eventbatch_store_seq"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "seq"], name="eventbatch_seq_unique_per_store"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.source} {self.state} +{self.added}"
