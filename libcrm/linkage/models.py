"""Identity linkage (M2): runs of the linker, the pairs it proposes for review, and merges.

A :class:`MatchCandidate` is one pair of patron records that may be one person — proposed by
the probabilistic linker or by a conflicting identifier claim — with its evidence and the
librarian's decision, kept so that a decided pair is never proposed again. A :class:`Merge`
records what a merge moved, so that an unmerge can put every row back where it was.
Nothing here holds personal data: records are named by id, evidence by comparison level.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class LinkRun(models.Model):
    """One run of the probabilistic linker over the registry."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor_label = models.CharField(max_length=150)
    backend = models.CharField(max_length=8, default="duckdb")
    review_threshold = models.FloatField()
    auto_merge_threshold = models.FloatField(null=True, blank=True)
    records = models.PositiveIntegerField(default=0)
    pairs_found = models.PositiveIntegerField(default=0)
    proposed = models.PositiveIntegerField(default=0)  # new pairs in the review queue
    auto_merged = models.PositiveIntegerField(default=0)
    skipped_decided = models.PositiveIntegerField(default=0)  # pairs a librarian had decided
    model = models.JSONField(default=dict, blank=True)  # trained weights, shown to staff
    timings = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("review_matches", "Can review possible duplicates and merge patrons")]

    def __str__(self) -> str:
        return f"link run {self.pk} ({self.started_at:%Y-%m-%d %H:%M})"


class CandidateSource(models.TextChoices):
    LINKER = "linker", _("Probabilistic linker")
    CONFLICT = "conflict", _("Conflicting identifier claim")
    STAFF = "staff", _("Proposed by staff")


class CandidateStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting review")
    ACCEPTED = "accepted", _("Same person (merged)")
    REJECTED = "rejected", _("Different people")
    OBSOLETE = "obsolete", _("No longer applicable")


class MatchCandidate(models.Model):
    """A pair of records that may be one person; ``left_id < right_id`` always."""

    left = models.ForeignKey(
        "patrons.Patron", on_delete=models.CASCADE, related_name="+", db_constraint=True
    )
    right = models.ForeignKey("patrons.Patron", on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=CandidateSource.choices)
    match_probability = models.FloatField(null=True, blank=True)
    match_weight = models.FloatField(null=True, blank=True)
    evidence = models.JSONField(default=list, blank=True)
    run = models.ForeignKey(LinkRun, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(
        max_length=10,
        choices=CandidateStatus.choices,
        default=CandidateStatus.PENDING,
        db_index=True,
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_label = models.CharField(max_length=150, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-match_probability", "id"]
        constraints = [
            models.UniqueConstraint(fields=["left", "right"], name="candidate_pair_unique"),
            models.CheckConstraint(
                condition=models.Q(left__lt=models.F("right")), name="candidate_pair_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"candidate {self.left_id}~{self.right_id} ({self.status})"


class Merge(models.Model):
    """``merged`` was folded into ``survivor``; ``moves`` lists every row that changed hands."""

    survivor = models.ForeignKey("patrons.Patron", on_delete=models.CASCADE, related_name="+")
    merged = models.ForeignKey("patrons.Patron", on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(
        MatchCandidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="merges"
    )
    reason = models.CharField(max_length=500)
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    # {"rows": [{"model": "app.Model", "field": "patron", "pks": [...]}, ...],
    #  "merged_status": "...", "household": {...}, "events": {...}}
    moves = models.JSONField(default=dict)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by_label = models.CharField(max_length=150, blank=True)
    undo_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["merged"],
                condition=models.Q(undone_at__isnull=True),
                name="one_standing_merge_per_record",
            )
        ]

    def __str__(self) -> str:
        return f"merge {self.merged_id} → {self.survivor_id}"

    @property
    def standing(self) -> bool:
        return self.undone_at is None
