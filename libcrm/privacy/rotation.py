"""Key rotation: re-seal every encrypted value and recompute every blind index under new keys.

Crash-safe in three steps, each safe to repeat. (1) :func:`stage_keys` rewrites the key file
(atomically) with new primary keys beside the old ones, so everything stays readable and
searchable: lookups try every index key. (2) :func:`reseal` rewrites, in one transaction, every
value not yet sealed with the primary key and recomputes every blind index. (3)
:func:`retire_keys` drops the old keys, after checking that no stored value still needs them. A
crash between any two steps leaves a working system, and :func:`rotate_keys` run again finishes
the rotation with the keys already staged rather than staging more.

Running processes keep the keys they read at start-up, so a rotation must not run underneath
``libcrm serve`` or a worker: they would go on sealing values with a key about to be dropped.
Such processes announce themselves with :func:`holding_keys`; rotation refuses while one runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import CharField, Count, F, Value
from django.db.models.functions import Left, StrIndex

from libcrm.privacy import keyfile
from libcrm.privacy.actors import Actor
from libcrm.privacy.crypto import DecryptionError
from libcrm.privacy.fields import EncryptedTextField
from libcrm.privacy.keys import get_keyring, reload_keyring
from libcrm.privacy.models import AuditAction

BlindIndexRebuilder = Callable[[], int]
_rebuilders: list[BlindIndexRebuilder] = []

BATCH_SIZE = 500


def register_blind_index_rebuilder(rebuild: BlindIndexRebuilder) -> None:
    """Apps owning blind indexes register a function that recomputes them and returns a count."""
    if rebuild not in _rebuilders:
        _rebuilders.append(rebuild)


class RotationError(Exception):
    """The rotation cannot go on; the message says why and what to do. Data stays readable."""


@dataclass(frozen=True)
class RotationReport:
    values_resealed: int
    digests_recomputed: int
    retired_field_keys: list[str]
    retired_index_keys: list[str]
    field_primary: str = ""
    index_primary: str = ""
    resumed: bool = False  # an earlier, interrupted rotation was finished with its staged keys


@dataclass(frozen=True)
class StagedKeys:
    material: dict[str, Any]
    retired_field_keys: list[str]
    retired_index_keys: list[str]
    resumed: bool


@dataclass(frozen=True)
class EncryptedColumn:
    model: type[models.Model]
    field: EncryptedTextField

    @property
    def label(self) -> str:
        """``app_label.Model.field``, as in error messages and the ciphertexts' bound context."""
        return f"{self.model._meta.label}.{self.field.name}"

    @property
    def table(self) -> str:
        return f"{self.model._meta.db_table}.{self.field.column}"


def encrypted_columns() -> list[EncryptedColumn]:
    return [
        EncryptedColumn(model, f)
        for model in apps.get_models()
        for f in model._meta.concrete_fields
        if isinstance(f, EncryptedTextField)
    ]


def _with_key_id(column: EncryptedColumn) -> models.QuerySet[Any]:
    """The column's rows holding a ciphertext, annotated with the id of the key that sealed it
    (``kid`` in ``kid:base64``), computed by the database without opening anything."""
    name = column.field.name
    return (
        column.model._base_manager.annotate(_sep=StrIndex(name, Value(":")))
        .filter(_sep__gt=0)
        .annotate(_kid=Left(name, F("_sep") - 1, output_field=CharField()))
    )


def stored_key_ids() -> dict[str, dict[str, int]]:
    """For each encrypted column, how many stored values each field key has sealed."""
    found: dict[str, dict[str, int]] = {}
    for column in encrypted_columns():
        rows = _with_key_id(column).values("_kid").annotate(n=Count("pk")).order_by()
        found[column.label] = {row["_kid"]: row["n"] for row in rows}
    return found


def values_under(key_ids: set[str]) -> dict[str, int]:
    """How many stored values, per column, are still sealed with one of ``key_ids``."""
    stale: dict[str, int] = {}
    for label, counts in stored_key_ids().items():
        n = sum(count for kid, count in counts.items() if kid in key_ids)
        if n:
            stale[label] = n
    return stale


# -- the three steps ----------------------------------------------------------------------------
def stage_keys(path: Path) -> StagedKeys:
    """Step 1: new primary keys in the key file, the old ones kept readable. If the file already
    holds retired keys, an earlier rotation stopped half-way: finish that one instead."""
    material = keyfile.load(path)
    retired_field = [k for k in material["field_keys"] if k != material["field_primary"]]
    retired_index = [k for k in material["index_keys"] if k != material["index_primary"]]
    if retired_field or retired_index:
        return StagedKeys(material, retired_field, retired_index, resumed=True)
    while True:
        staged, retired_field, retired_index = keyfile.add_rotation_keys(material)
        # Key ids are 32 random bits: a new id equal to an old one would overwrite a key in use.
        if (
            staged["field_primary"] not in material["field_keys"]
            and staged["index_primary"] not in material["index_keys"]
        ):
            break
    keyfile.write_atomic(path, staged)
    return StagedKeys(staged, retired_field, retired_index, resumed=False)


def reseal(
    actor: Actor, retired_field: list[str], retired_index: list[str], *, resumed: bool = False
) -> RotationReport:
    """Step 2: rewrite every value not sealed with the primary key, and every blind index, under
    the current primary keys, in one transaction (audited with it)."""
    from libcrm.privacy.services import record_audit_event

    keyring = get_keyring()
    with transaction.atomic():
        resealed = sum(_reseal_column(c, keyring.field_primary) for c in encrypted_columns())
        digests = sum(rebuild() for rebuild in _rebuilders)
        record_audit_event(
            actor,
            AuditAction.ROTATE_KEYS,
            detail={
                "values_resealed": resealed,
                "digests_recomputed": digests,
                "retired_field_keys": len(retired_field),
                "retired_index_keys": len(retired_index),
                "resumed": resumed,
            },
        )
    return RotationReport(
        values_resealed=resealed,
        digests_recomputed=digests,
        retired_field_keys=list(retired_field),
        retired_index_keys=list(retired_index),
        field_primary=keyring.field_primary,
        index_primary=keyring.index_primary,
        resumed=resumed,
    )


def retire_keys(path: Path, material: dict[str, Any]) -> dict[str, Any]:
    """Step 3: drop every non-primary key from the key file, unless a value still needs one."""
    _refuse_if_values_under(
        set(material["field_keys"]) - {material["field_primary"]},
        "libcrm rotate-keys",
    )
    pruned = keyfile.drop_retired_keys(material)
    keyfile.write_atomic(path, pruned)
    use_key_material(pruned)
    return pruned


def rotate_keys(actor: Actor) -> RotationReport:
    """Rotate the field-encryption and blind-index keys held in the key file."""
    if settings.LIBCRM_KEY_SOURCE.startswith("environment"):
        raise RotationError(
            "keys come from LIBCRM_KEYS; rotate them in your secret store: add new keys there and "
            "make them primary, run 'libcrm rotate-keys --reseal-only', then remove the old ones"
        )
    refuse_while_keys_held()
    path = Path(settings.LIBCRM_KEY_FILE)
    staged = stage_keys(path)
    use_key_material(staged.material)
    report = reseal(
        actor, staged.retired_field_keys, staged.retired_index_keys, resumed=staged.resumed
    )
    retire_keys(path, staged.material)
    return report


def reseal_only(actor: Actor) -> RotationReport:
    """Re-seal under the primary keys the process already has (keys given in LIBCRM_KEYS): the
    operator added new primary keys to the secret store and removes the old ones afterwards."""
    refuse_while_keys_held()
    keyring = get_keyring()
    retired_field = [k for k in keyring.field_keys if k != keyring.field_primary]
    retired_index = [k for k in keyring.index_keys if k != keyring.index_primary]
    report = reseal(actor, retired_field, retired_index)
    _refuse_if_values_under(set(retired_field), "libcrm rotate-keys --reseal-only")
    return report


def use_key_material(material: dict[str, Any]) -> None:
    """Make this process seal and search with ``material`` from now on."""
    settings.LIBCRM_KEY_MATERIAL = material
    reload_keyring()


def _reseal_column(column: EncryptedColumn, primary: str) -> int:
    """Re-seal the column's values that the primary key did not seal, in primary-key batches
    (never updating rows under an open cursor)."""
    field, model = column.field, column.model
    stale = _with_key_id(column).exclude(_kid=primary).order_by("pk")
    quote = connection.ops.quote_name
    # Names come from the model's metadata, values travel as parameters.
    update = (
        f"UPDATE {quote(model._meta.db_table)} SET {quote(field.column)} = %s "  # noqa: S608
        f"WHERE {quote(model._meta.pk.column)} = %s"
    )
    count, last = 0, None
    while True:
        page = stale if last is None else stale.filter(pk__gt=last)
        pks = list(page.values_list("pk", flat=True)[:BATCH_SIZE])
        if not pks:
            return count
        try:
            opened = list(model._base_manager.filter(pk__in=pks).values_list("pk", field.name))
        except DecryptionError as exc:
            raise RotationError(
                f"cannot re-seal {column.label}: {exc}; restore the key file that holds that key, "
                "then run the rotation again (nothing was changed)"
            ) from exc
        params = [(field.get_db_prep_save(value, connection), pk) for pk, value in opened]
        with connection.cursor() as cursor:
            cursor.executemany(update, params)
        count += len(params)
        last = pks[-1]


def _refuse_if_values_under(key_ids: set[str], rerun: str) -> None:
    if not key_ids:
        return
    stale = values_under(key_ids)
    if stale:
        where = ", ".join(f"{label} ({n})" for label, n in sorted(stale.items()))
        raise RotationError(
            f"values are still sealed with retired keys after re-sealing: {where}. Something "
            "wrote them with the old keys during the rotation; stop libcrm serve and any worker, "
            f"then run '{rerun}' again. The old keys were kept, so nothing is unreadable."
        )


# -- processes holding keys in memory -----------------------------------------------------------
@dataclass(frozen=True)
class KeyHolder:
    pid: int
    label: str
    started: str
    path: Path


def _holders_dir() -> Path:
    return Path(settings.LIBCRM_HOME) / "run"


@contextmanager
def holding_keys(label: str) -> Iterator[Path]:
    """Record, for as long as the block runs, that this process holds the keys in memory."""
    from django.utils import timezone

    folder = _holders_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{label}.{os.getpid()}.json"
    record = {"pid": os.getpid(), "label": label, "started": timezone.now().isoformat()}
    path.write_text(json.dumps(record), encoding="utf-8")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def running_key_holders() -> list[KeyHolder]:
    """Live processes that announced they hold the keys; records of dead ones are removed."""
    holders = []
    for path in sorted(_holders_dir().glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            pid = int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid == os.getpid():
            continue
        if not _alive(pid):
            path.unlink(missing_ok=True)
            continue
        label, started = str(record.get("label", "")), str(record.get("started", ""))
        holders.append(KeyHolder(pid, label, started, path))
    return holders


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def refuse_while_keys_held() -> None:
    holders = running_key_holders()
    if holders:
        running = ", ".join(f"{h.label} (pid {h.pid})" for h in holders)
        raise RotationError(
            f"{running} is running with the current keys in memory and would keep sealing values "
            "with a key the rotation retires. Stop it, run the rotation, then start it again. "
            f"(If no such process exists, delete {holders[0].path}.)"
        )
