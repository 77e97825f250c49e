"""Bringing the store back to a consistent state after a writer died (SIGKILL, power loss).

The rules, applied under the writer lock:

1. an append committed in the ledger but not yet in the manifest is made visible (roll forward:
   the ledger commit is an append's commit point, its files were durable before it);
2. an append still pending in the ledger is marked rolled back;
3. every file in a partition folder that the manifest does not list is removed: files of
   rolled-back appends, half-written temporaries, and the leftovers of a compaction or rewrite
   on either side of its manifest publish.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from libcrm.events.errors import StoreCorrupt
from libcrm.events.store import layout
from libcrm.events.store import manifest as mf
from libcrm.events.store.ledger import Ledger

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    rolled_forward: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.rolled_forward or self.rolled_back or self.removed_files)


def recover(root: Path, ledger: Ledger, current: mf.Manifest) -> tuple[mf.Manifest, RecoveryReport]:
    report = RecoveryReport()
    manifest = current
    for record in ledger.committed_since(manifest.store_id, manifest.batch_seq):
        entries = [mf.FileEntry.from_json(f) for f in record.files]
        missing = [e.path for e in entries if not (root / e.path).is_file()]
        if missing:
            raise StoreCorrupt(
                f"batch {record.batch_id} is committed in the ledger but its files are gone: "
                f"{', '.join(missing)}; restore them from a backup"
            )
        manifest = manifest.next(add=entries, batch_seq=record.seq)
        report.rolled_forward.append(record.batch_id)
    if manifest is not current:
        mf.publish(root, manifest)

    for record in ledger.pending(manifest.store_id):
        ledger.roll_back(record.batch_id, "interrupted; recovery removed its files")
        report.rolled_back.append(record.batch_id)

    live = set(manifest.files)
    for relative, folder in layout.partition_dirs(root):
        removed_here = False
        for path in sorted(folder.iterdir()):
            name = f"{relative}/{path.name}"
            if name in live or not path.is_file():
                continue
            path.unlink()
            report.removed_files.append(name)
            removed_here = True
        if removed_here:
            layout.fsync_dir(folder)
    _remove_dead_spill(root / layout.SPILL_DIR)
    if report.changed:
        log.warning(
            "event store %s recovered: %d batch(es) made visible, %d rolled back, %d file(s) "
            "removed",
            root,
            len(report.rolled_forward),
            len(report.rolled_back),
            len(report.removed_files),
        )
    return manifest, report


def _remove_dead_spill(spill: Path) -> None:
    """DuckDB spill folders are per process (``p<pid>``); those of dead processes are junk."""
    if not spill.is_dir():
        return
    for path in spill.iterdir():
        pid = path.name[1:]
        if not (path.name.startswith("p") and pid.isdigit()) or _alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
