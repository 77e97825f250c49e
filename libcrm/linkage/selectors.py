"""Reads of identity linkage: the review queue, one pair side by side, merges and runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import get_language, gettext_lazy, pgettext_lazy

from libcrm.linkage.models import CandidateStatus, LinkRun, MatchCandidate, Merge
from libcrm.patrons.models import Identifier, Patron

#: Fields shown side by side when a librarian compares two records, with their labels (the
#: same words as on the patron page).
COMPARED_FIELDS = {
    "name": pgettext_lazy("person", "Name"),
    "gender": gettext_lazy("Gender"),
    "birth_year": gettext_lazy("Birth year"),
    "category": gettext_lazy("Category"),
    "department": gettext_lazy("Department"),
    "home_branch": gettext_lazy("Home branch"),
    "registered_on": gettext_lazy("Registered on"),
    "expires_on": gettext_lazy("Expires on"),
    "status": gettext_lazy("Status"),
}


def review_queue(status: str = CandidateStatus.PENDING, source: str = "") -> QuerySet:
    queue = MatchCandidate.objects.filter(status=status).select_related("left", "right")
    if source:
        queue = queue.filter(source=source)
    return queue.order_by("-match_probability", "id")


def queue_counts() -> dict[str, int]:
    rows = MatchCandidate.objects.values("status").annotate(n=Count("id"))
    counts = {s.value: 0 for s in CandidateStatus}
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


@dataclass(frozen=True)
class ComparedField:
    label: str
    left: Any
    right: Any

    @property
    def same(self) -> bool:
        return self.left == self.right and self.left not in (None, "")


@dataclass(frozen=True)
class Evidence:
    label: str
    level: str
    agrees: bool | None
    weight: float


def compared_fields(left: Patron, right: Patron) -> list[ComparedField]:
    return [
        ComparedField(str(label), _shown(left, name), _shown(right, name))
        for name, label in COMPARED_FIELDS.items()
    ]


def _shown(patron: Patron, name: str) -> Any:
    display = getattr(patron, f"get_{name}_display", None)
    if display is not None:
        return display()
    value = getattr(patron, name)
    return "" if value is None else value


def identifiers_of(patron: Patron) -> list[Identifier]:
    return list(Identifier.objects.filter(patron=patron).order_by("kind", "id"))


def evidence_of(candidate: MatchCandidate) -> list[Evidence]:
    """The linker's evidence in the reader's language, strongest contribution first."""
    from libcrm.linkage.engine.model import COMPARISONS, EXTRA_EVIDENCE

    chinese = (get_language() or "").startswith("zh")
    names = {c.name: (c.label_zh if chinese else c.label_en) for c in COMPARISONS}
    names.update({key: (zh if chinese else en) for key, (en, zh) in EXTRA_EVIDENCE.items()})
    rows = []
    for entry in candidate.evidence or []:
        label = entry.get("label") or names.get(
            entry.get("comparison", ""), entry.get("comparison", "")
        )
        rows.append(
            Evidence(
                label=label,
                level=entry.get("label_zh" if chinese else "label_en") or entry.get("level", ""),
                agrees=entry.get("agrees"),
                weight=float(entry.get("weight") or 0.0),
            )
        )
    return sorted(rows, key=lambda e: -abs(e.weight))


def merges(standing_only: bool = False) -> QuerySet:
    rows = Merge.objects.select_related("survivor", "merged")
    return rows.filter(undone_at__isnull=True) if standing_only else rows


def standing_merge_of(patron: Patron) -> Merge | None:
    """The merge that folded ``patron`` into another record, if it stands."""
    return (
        Merge.objects.filter(merged=patron, undone_at__isnull=True)
        .select_related("survivor")
        .first()
    )


def merged_into(patron: Patron) -> QuerySet:
    return Merge.objects.filter(survivor=patron, undone_at__isnull=True).select_related("merged")


def pending_for(patron: Patron) -> QuerySet:
    return MatchCandidate.objects.filter(
        Q(left=patron) | Q(right=patron), status=CandidateStatus.PENDING
    )


def latest_run() -> LinkRun | None:
    return LinkRun.objects.order_by("-started_at", "-id").first()


def comparison_labels(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The trained model's comparisons in the reader's language (for the run page)."""
    chinese = (get_language() or "").startswith("zh")
    out = []
    for comparison in model.get("comparisons", []):
        out.append(
            {
                "label": comparison["label_zh" if chinese else "label_en"],
                "levels": [
                    {
                        "label": level["label_zh" if chinese else "label_en"],
                        "m": level.get("m"),
                        "u": level.get("u"),
                        "weight": level.get("match_weight"),
                        "null": level.get("null"),
                    }
                    for level in comparison.get("levels", [])
                ],
            }
        )
    return out


def identity_context(patron: Patron, user: Any) -> dict[str, Any]:
    """What the patron page says about this record's identity: merged into another record,
    records merged into it, pairs waiting for review (for reviewers)."""
    if not user.has_perm("linkage.review_matches"):
        return {"identity": None}
    return {
        "identity": {
            "merged_into": standing_merge_of(patron),
            "absorbed": list(merged_into(patron)),
            "pending": list(pending_for(patron).values_list("pk", flat=True)[:5]),
        }
    }
