"""Re-keying events when two patron records turn out to be one person (identity merge).

Rewriting every file that holds the old key would rewrite most of the store for one merge (a
patron's events are spread over every month). Instead a merge records an *alias* in the
manifest — ``old key → new key`` — which is O(1) and atomic:

* reads look up both keys and report the new one;
* every file written from then on (appends, compaction, rewrites) stores the new key, and
  records the alias version it reflects, so compaction folds aliases into the data over time
  and reads stop looking for an old key in files that can no longer hold it;
* erasure erases the old keys too.

Chains are flattened (a→b then b→c leaves a→c, b→c), and merging back (b→a after a→b) simply
turns the alias around.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.events import schema
from libcrm.events.store.manifest import Alias, Manifest

if TYPE_CHECKING:
    from libcrm.events.store.store import EventStore

_KEY = re.compile(schema.PATRON_KEY_PATTERN)


@dataclass(frozen=True)
class RekeyReport:
    old_patron_key: str
    new_patron_key: str
    alias_version: int
    keys_moved: tuple[str, ...]  # every old key that now resolves to the new one


def check_key(patron_key: str, what: str = "patron_key") -> str:
    if not isinstance(patron_key, str) or not _KEY.match(patron_key):
        raise ValueError(f"{what} must be pk followed by 24 base32 characters")
    return patron_key


def rekey(store: EventStore, old: str, new: str) -> RekeyReport:
    """Record that ``old``'s events now belong to ``new``; publish it atomically."""
    check_key(old, "old_patron_key")
    check_key(new, "new_patron_key")
    if old == new:
        raise ValueError("old and new patron keys are the same")
    with store.writing("rekey") as session:
        m = session.manifest
        if old in m.aliases:
            raise ValueError(
                f"{old} was already merged into {m.aliases[old].to}; merge that key instead"
            )
        version = m.alias_version + 1
        target = m.resolve(new)
        if target == old:  # merging back: new had been merged into old
            target = new
        aliases = {k: a for k, a in m.aliases.items() if k != target}
        moved = [old]
        for key, alias in list(aliases.items()):
            if alias.to == old:
                aliases[key] = Alias(target, version)
                moved.append(key)
        aliases[old] = Alias(target, version)
        session.publish(m.next(aliases=aliases, alias_version=version))
    return RekeyReport(old, target, version, tuple(sorted(moved)))


def unalias(store: EventStore, old: str, expected_to: str) -> RekeyReport:
    """Undo :func:`rekey`: ``old``'s events are its own again (identity unmerge).

    Exact because compaction never folds aliases into the files: every event stored under
    ``old`` still carries it. (Events *appended* while the merge stood that named ``old`` were
    stored under the survivor's key and stay with the survivor.) Refused unless ``old``
    currently resolves to ``expected_to``.
    """
    check_key(old, "old_patron_key")
    check_key(expected_to, "new_patron_key")
    with store.writing("unalias") as session:
        m = session.manifest
        alias = m.aliases.get(old)
        if alias is None or alias.to != expected_to:
            raise ValueError(f"{old} is not merged into {expected_to}; nothing to undo")
        version = m.alias_version + 1
        aliases = {k: a for k, a in m.aliases.items() if k != old}
        session.publish(m.next(aliases=aliases, alias_version=version))
    return RekeyReport(old, old, version, (old,))


def alias_table(manifest: Manifest) -> pa.Table:
    olds = sorted(manifest.aliases)
    return pa.table(
        {
            "old_key": pa.array(olds, pa.string()),
            "new_key": pa.array([manifest.aliases[k].to for k in olds], pa.string()),
        }
    )


def apply_aliases(rows: pa.Table, manifest: Manifest) -> pa.Table:
    """``rows`` with every aliased patron key replaced by the key it now means."""
    if not manifest.aliases or rows.num_rows == 0:
        return rows
    table = alias_table(manifest)
    keys = rows.column("patron_key")
    where = pc.index_in(keys, value_set=table.column("old_key"))
    if where.null_count == len(where):
        return rows
    mapped = pc.coalesce(pc.take(table.column("new_key"), where), keys)
    position = rows.schema.get_field_index("patron_key")
    return rows.set_column(position, rows.schema.field(position), mapped)
