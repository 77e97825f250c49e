"""Retention policies applied to the event store: ``libcrm retention`` (on a schedule), the
console's "run now", and policy edits. Each run is one rewrite of the store (see
:func:`libcrm.events.store.rewrite.apply_retention`) and one ``RETENTION_RUN`` audit record with
the counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from libcrm.events import schema
from libcrm.events.services import apply_event_retention
from libcrm.events.store import RetentionRule
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.subjects.errors import SubjectError
from libcrm.subjects.models import RetentionAction, RetentionBasis, RetentionPolicy

CIRCULATION = frozenset({"loan", "return", "renewal", "hold"})
MAX_AGE_DAYS = 36_500


@dataclass
class RetentionRunReport:
    dry_run: bool
    policies: list[str] = field(default_factory=list)
    rows_deleted: int = 0
    rows_anonymised: int = 0
    files_rewritten: int = 0
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    spared_patrons: dict[str, int] = field(default_factory=dict)  # per consent purpose
    sign_in_attempts_pruned: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.rows_deleted or self.rows_anonymised)


def enabled_policies() -> QuerySet[RetentionPolicy]:
    return RetentionPolicy.objects.filter(enabled=True).order_by("name")


def _consenting_keys(purpose: str, notes: list[str]) -> frozenset[str]:
    try:
        from libcrm.consent.selectors import patron_keys_with_consent
    except ImportError:
        notes.append(f"consent app unavailable: nobody spared for {purpose}")
        return frozenset()
    return frozenset(patron_keys_with_consent(purpose))


def policy_rules(
    policies: list[RetentionPolicy], report: RetentionRunReport
) -> list[RetentionRule]:
    """The store's rules for ``policies``; consent lookups are made once per purpose."""
    spared: dict[str, frozenset[str]] = {}
    rules = []
    for policy in policies:
        keep = frozenset()
        if policy.exempt_consent:
            if policy.exempt_consent not in spared:
                spared[policy.exempt_consent] = _consenting_keys(
                    policy.exempt_consent, report.notes
                )
            keep = spared[policy.exempt_consent]
        rules.append(
            RetentionRule(
                older_than=policy.older_than,
                types=frozenset(policy.event_types) or None,
                action=policy.action,
                keep_keys=keep,
                after_return=policy.measured_from == RetentionBasis.RETURN,
            )
        )
    report.spared_patrons = {purpose: len(keys) for purpose, keys in spared.items()}
    return rules


def apply_retention_policies(
    actor: Actor, *, dry_run: bool = False, now: datetime | None = None
) -> RetentionRunReport:
    """Apply every enabled policy in one rewrite of the event store; audited with the counts
    (a dry run too: it reads which patrons kept their loan history)."""
    policies = list(enabled_policies())
    report = RetentionRunReport(dry_run=dry_run, policies=[p.name for p in policies])
    rules = policy_rules(policies, report)
    if rules:
        rewrite = apply_event_retention(rules, now=now, dry_run=dry_run)
        report.rows_deleted = rewrite.rows_deleted
        report.rows_anonymised = rewrite.rows_anonymised
        report.files_rewritten = len(rewrite.files_rewritten)
        report.by_type = rewrite.by_type
    if not dry_run:
        # sign-in attempts (keyed digests and addresses) are kept only as long as throttling
        # and an investigation need them; the audit trail keeps the failures themselves
        from libcrm.staff.throttle import prune_attempts

        report.sign_in_attempts_pruned = prune_attempts()
    record_audit_event(
        actor,
        AuditAction.RETENTION_RUN,
        target="events",
        detail={
            "dry_run": dry_run,
            "policies": len(policies),
            "rows_deleted": report.rows_deleted,
            "rows_anonymised": report.rows_anonymised,
            "files_rewritten": report.files_rewritten,
            "spared_patrons": report.spared_patrons,
            "sign_in_attempts_pruned": report.sign_in_attempts_pruned,
        },
    )
    return report


POLICY_FIELDS = (
    "name",
    "event_types",
    "action",
    "age_days",
    "measured_from",
    "exempt_consent",
    "enabled",
    "notes",
)


def _consent_purposes() -> set[str]:
    try:
        from libcrm.consent.models import Purpose
    except ImportError:
        return set()
    return set(Purpose.values)


def clean_policy(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Check a policy's fields; raises :class:`SubjectError` naming the first bad field."""
    unknown = sorted(set(changes) - set(POLICY_FIELDS))
    if unknown:
        raise SubjectError(unknown[0], _("is not a field of a retention policy"))
    cleaned = dict(changes)
    if "name" in cleaned:
        name = str(cleaned["name"] or "").strip()
        if not name or len(name) > 100:
            raise SubjectError("name", _("must be 1 to 100 characters"))
        cleaned["name"] = name
    if "event_types" in cleaned:
        types = list(cleaned["event_types"] or [])
        bad = sorted(set(types) - schema.EVENT_TYPES)
        if bad:
            raise SubjectError(
                "event_types", _("unknown event type(s): %(types)s") % {"types": ", ".join(bad)}
            )
        cleaned["event_types"] = sorted(set(types))
    if "action" in cleaned and cleaned["action"] not in RetentionAction.values:
        raise SubjectError(
            "action",
            _("must be one of: %(choices)s") % {"choices": ", ".join(RetentionAction.values)},
        )
    if "age_days" in cleaned:
        age = cleaned["age_days"]
        if not isinstance(age, int) or isinstance(age, bool) or not 1 <= age <= MAX_AGE_DAYS:
            raise SubjectError(
                "age_days",
                _("must be a whole number of days from 1 to %(limit)d") % {"limit": MAX_AGE_DAYS},
            )
    if "measured_from" in cleaned and cleaned["measured_from"] not in RetentionBasis.values:
        raise SubjectError(
            "measured_from",
            _("must be one of: %(choices)s") % {"choices": ", ".join(RetentionBasis.values)},
        )
    if cleaned.get("exempt_consent") and cleaned["exempt_consent"] not in _consent_purposes():
        raise SubjectError("exempt_consent", _("is not a consent purpose"))
    if "notes" in cleaned and len(str(cleaned["notes"] or "")) > 300:
        raise SubjectError("notes", _("must be at most 300 characters"))
    return cleaned


def _check_basis(policy: RetentionPolicy) -> None:
    if policy.measured_from == RetentionBasis.RETURN and (
        not policy.event_types or not set(policy.event_types) <= CIRCULATION
    ):
        raise SubjectError(
            "measured_from",
            _("counting from the return needs circulation event types only (%(types)s)")
            % {"types": ", ".join(sorted(CIRCULATION))},
        )


@transaction.atomic
def save_retention_policy(
    actor: Actor, policy: RetentionPolicy | None, changes: Mapping[str, Any]
) -> RetentionPolicy:
    """Create (``policy`` None) or change a policy; audited as a ``RETENTION_RUN`` record
    marked ``policy_changed`` with the names of the fields."""
    cleaned = clean_policy(changes)
    creating = policy is None
    current = {f: getattr(policy, f) for f in POLICY_FIELDS} if policy is not None else {}
    changed = sorted(k for k, v in cleaned.items() if creating or current[k] != v)
    # Checked on a copy: a refused change leaves the caller's object as it was.
    candidate = RetentionPolicy(pk=policy.pk if policy else None, **{**current, **cleaned})
    if not candidate.name:
        raise SubjectError("name", _("must be 1 to 100 characters"))
    if not candidate.age_days:
        raise SubjectError("age_days", _("is required"))
    _check_basis(candidate)
    if RetentionPolicy.objects.filter(name=candidate.name).exclude(pk=candidate.pk).exists():
        raise SubjectError("name", _("another policy already has this name"))
    policy = policy or RetentionPolicy()
    for key, value in cleaned.items():
        setattr(policy, key, value)
    if not changed:
        return policy
    policy.save()
    record_audit_event(
        actor,
        AuditAction.RETENTION_RUN,
        target=f"retention-policy:{policy.pk}",
        detail={"policy_changed": True, "created": creating, "fields": changed},
    )
    return policy
