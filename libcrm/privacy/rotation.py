"""Key rotation: re-seal every encrypted value and recompute every blind index under new keys.

Crash-safe in three steps. (1) The key file gains new primary keys while keeping the old ones,
so everything stays readable and searchable (lookups try every index key). (2) One database
transaction rewrites all values and digests under the new keys. (3) The key file drops the old
keys. A crash between any two steps leaves a working system; running the rotation again
finishes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import transaction

from libcrm.privacy import keyfile
from libcrm.privacy.actors import Actor
from libcrm.privacy.fields import EncryptedTextField
from libcrm.privacy.keys import reload_keyring
from libcrm.privacy.models import AuditAction

BlindIndexRebuilder = Callable[[], int]
_rebuilders: list[BlindIndexRebuilder] = []


def register_blind_index_rebuilder(rebuild: BlindIndexRebuilder) -> None:
    """Apps owning blind indexes register a function that recomputes them and returns a count."""
    if rebuild not in _rebuilders:
        _rebuilders.append(rebuild)


class RotationError(Exception):
    pass


@dataclass(frozen=True)
class RotationReport:
    values_resealed: int
    digests_recomputed: int
    retired_field_keys: list[str]
    retired_index_keys: list[str]


def _reseal_all() -> int:
    count = 0
    for model in apps.get_models():
        fields = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if not fields:
            continue
        for row in model._default_manager.only("pk", *fields).iterator(chunk_size=1000):
            values = {name: getattr(row, name) for name in fields}
            model._default_manager.filter(pk=row.pk).update(**values)
            count += sum(1 for v in values.values() if v)
    return count


def rotate_keys(actor: Actor) -> RotationReport:
    """Rotate field-encryption and blind-index keys held in the key file."""
    from libcrm.privacy.services import record_audit_event

    if settings.LIBCRM_KEY_SOURCE.startswith("environment"):
        raise RotationError(
            "keys come from LIBCRM_KEYS; rotate them in your secret store: add new keys there, "
            "run 'libcrm rotate-keys --reseal-only', then remove the old ones"
        )
    path = Path(settings.LIBCRM_KEY_FILE)
    staged, retired_field, retired_index = keyfile.add_rotation_keys(keyfile.load(path))
    keyfile.write_atomic(path, staged)
    settings.LIBCRM_KEY_MATERIAL = staged
    reload_keyring()
    report = reseal(actor, retired_field, retired_index)
    pruned = keyfile.drop_retired_keys(staged)
    keyfile.write_atomic(path, pruned)
    settings.LIBCRM_KEY_MATERIAL = pruned
    reload_keyring()
    record_audit_event(
        actor, AuditAction.ROTATE_KEYS,
        detail={"retired_field_keys": len(retired_field), "retired_index_keys": len(retired_index)},
    )
    return report


def reseal(actor: Actor, retired_field: list[str], retired_index: list[str]) -> RotationReport:
    """Rewrite every value and digest under the current primary keys, in one transaction."""
    with transaction.atomic():
        resealed = _reseal_all()
        digests = sum(rebuild() for rebuild in _rebuilders)
    return RotationReport(resealed, digests, retired_field, retired_index)
