"""Identity resolution for ingestion: source identifiers → pseudonymous patron keys.

Vectorised per batch: only the *distinct* (kind, value) pairs of a batch go through Python
(normalise, keyed digest), looked up in bulk and cached for the whole run, then mapped back to
the rows with Arrow kernels, so a million rows from a few thousand patrons cost a few thousand
normalisations, not a million.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from django.utils.translation import gettext as _

from libcrm.patrons import identifiers as idkinds
from libcrm.patrons.models import Identifier, Patron
from libcrm.patrons.services import (
    ProvisionalIdentifier,
    identifier_digest,
    identifier_digest_candidates,
    register_provisional_patrons,
    translated_reason,
)
from libcrm.privacy.actors import Actor

SEPARATOR = "\x1f"
LOOKUP_CHUNK = 500


class UnknownIdentifiers:
    """What to do with an identifier no patron holds."""

    PROVISIONAL = "provisional"
    REJECT = "reject"
    CHOICES = (PROVISIONAL, REJECT)


@dataclass(frozen=True)
class RowProblem:
    row: int
    field: str
    reason: str


@dataclass
class _Outcome:
    patron_key: str | None = None
    field: str = ""
    reason: str = ""


@dataclass
class IdentityResolver:
    """Resolves batches of raw events for one run; remembers what it resolved."""

    actor: Actor
    source: str
    unknown: str = UnknownIdentifiers.PROVISIONAL
    provisional_created: int = 0
    _by_identifier: dict[str, _Outcome] = field(default_factory=dict)
    _known_keys: dict[str, bool] = field(default_factory=dict)

    def resolve(self, batch: pa.RecordBatch) -> tuple[pa.Array, list[RowProblem]]:
        """The patron key of every row (null where it could not be resolved) and the problems."""
        kinds = batch.column("identifier_kind")
        values = batch.column("identifier_value")
        given = batch.column("patron_key")
        combined = pc.binary_join_element_wise(
            pc.fill_null(kinds, ""), pc.fill_null(values, ""), SEPARATOR
        )
        distinct = [c for c in pc.unique(combined).to_pylist() if c != SEPARATOR]
        self._resolve_identifiers([c for c in distinct if c not in self._by_identifier])
        ordered = list(self._by_identifier)
        positions = pc.index_in(combined, value_set=pa.array(ordered, pa.string()))
        resolved_keys = pa.array([self._by_identifier[c].patron_key for c in ordered], pa.string())
        from_identifiers = pc.take(resolved_keys, positions)

        given_distinct = [k for k in pc.unique(given).to_pylist() if k]
        self._check_given_keys([k for k in given_distinct if k not in self._known_keys])
        known = pa.array([k for k in given_distinct if self._known_keys[k]], pa.string())
        given_ok = pc.if_else(pc.is_in(given, value_set=known), given, pa.scalar(None, pa.string()))
        keys = pc.coalesce(given_ok, from_identifiers)

        problems: list[RowProblem] = []
        missing = pc.is_null(keys)
        if pc.any(missing).as_py():
            rows = pc.indices_nonzero(missing).to_pylist()
            combined_list = combined.to_pylist()
            given_list = given.to_pylist()
            for row in rows:
                key = given_list[row]
                if key:
                    problems.append(RowProblem(row, "patron_key", _("no patron has this key")))
                    continue
                outcome = self._by_identifier.get(combined_list[row])
                if outcome is None:
                    problems.append(RowProblem(row, "identifier", _("no identifier given")))
                else:
                    problems.append(RowProblem(row, outcome.field, outcome.reason))
        return keys, problems

    def _resolve_identifiers(self, combined: list[str]) -> None:
        if not combined:
            return
        # (kind, digest) -> every distinct written form of it ("138 0013 8000", "13800138000")
        candidates: dict[tuple[str, str], list[str]] = {}
        primary: dict[str, ProvisionalIdentifier] = {}
        for item in combined:
            kind, _sep, value = item.partition(SEPARATOR)
            try:
                normal = idkinds.normalise(kind, value)
            except idkinds.InvalidIdentifier as exc:
                field_name = "identifier_kind" if exc.field == "kind" else "identifier_value"
                self._by_identifier[item] = _Outcome(None, field_name, translated_reason(exc))
                continue
            for digest in identifier_digest_candidates(kind, normal):
                candidates.setdefault((kind, digest), []).append(item)
            primary[item] = ProvisionalIdentifier(kind, normal, identifier_digest(kind, normal))
        found = self._lookup(candidates)
        unknown: list[str] = []
        for item in primary:
            if item in found:
                self._by_identifier[item] = _Outcome(found[item])
            else:
                unknown.append(item)
        if not unknown:
            return
        if self.unknown == UnknownIdentifiers.REJECT:
            for item in unknown:
                self._by_identifier[item] = _Outcome(
                    None, "identifier_value", _("no patron has this identifier")
                )
            return
        created = register_provisional_patrons(
            self.actor, (primary[item] for item in unknown), source=self.source
        )
        self.provisional_created += len(created)
        for item in unknown:
            self._by_identifier[item] = _Outcome(created[primary[item].digest])

    def _lookup(self, candidates: dict[tuple[str, str], list[str]]) -> dict[str, str]:
        found: dict[str, str] = {}
        pairs = list(candidates)
        for start in range(0, len(pairs), LOOKUP_CHUNK):
            chunk = pairs[start : start + LOOKUP_CHUNK]
            rows = Identifier.objects.filter(
                kind__in={kind for kind, _d in chunk}, digest__in=[d for _k, d in chunk]
            ).values_list("kind", "digest", "patron__patron_key")
            for kind, digest, patron_key in rows:
                for item in candidates.get((kind, digest), ()):
                    found[item] = patron_key
        return found

    def _check_given_keys(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            existing = set(
                Patron.objects.filter(patron_key__in=chunk).values_list("patron_key", flat=True)
            )
            for key in chunk:
                self._known_keys[key] = key in existing
