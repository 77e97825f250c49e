"""The manifest: which files make up the store right now, and the patron-key aliases.

Readers see exactly the files the manifest lists, so a batch, a compaction or an erasure becomes
visible all at once when a new manifest is renamed into place — never half. Each entry carries
the statistics readers prune with (time range, patron-key range, whether the file is sorted by
patron), so a patron's timeline opens only the files that can hold their events.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from libcrm.events.errors import StoreCorrupt
from libcrm.events.schema import SCHEMA_VERSION
from libcrm.events.store import layout

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FORMAT = "libcrm-event-store"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FileEntry:
    """One live Parquet file. Times are microseconds since the epoch (UTC)."""

    path: str  # relative to the store root, e.g. year=2026/month=03/b2026...-0.parquet
    rows: int
    bytes: int
    min_at: int
    max_at: int
    pk_min: str
    pk_max: str
    sorted: bool  # rows ordered by (patron_key, occurred_at, event_id): row groups prune
    aliases_applied: int  # alias version whose mapping the file's patron keys already reflect
    written_by: str  # the batch or operation id

    @property
    def partition(self) -> str:
        return self.path.rsplit("/", 1)[0]

    @property
    def month(self) -> tuple[int, int]:
        return layout.parse_partition(self.partition)

    def may_hold(self, key: str) -> bool:
        return self.pk_min <= key <= self.pk_max

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileEntry:
        return cls(**data)


@dataclass(frozen=True)
class Alias:
    """``old`` patron key now means ``to`` (an identity merge); ``version`` orders merges."""

    to: str
    version: int


@dataclass(frozen=True)
class Manifest:
    store_id: str
    generation: int = 0
    batch_seq: int = 0  # the ledger sequence of the last append made visible
    alias_version: int = 0
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    aliases: Mapping[str, Alias] = field(default_factory=dict)

    def next(
        self,
        *,
        add: Iterable[FileEntry] = (),
        remove: Iterable[str] = (),
        batch_seq: int | None = None,
        aliases: Mapping[str, Alias] | None = None,
        alias_version: int | None = None,
    ) -> Manifest:
        """The following generation: files removed, files added, counters moved on."""
        files = dict(self.files)
        for path in remove:
            files.pop(path, None)
        for entry in add:
            files[entry.path] = entry
        return replace(
            self,
            generation=self.generation + 1,
            files=files,
            batch_seq=self.batch_seq if batch_seq is None else batch_seq,
            aliases=self.aliases if aliases is None else dict(aliases),
            alias_version=self.alias_version if alias_version is None else alias_version,
        )

    def by_partition(self) -> dict[str, list[FileEntry]]:
        out: dict[str, list[FileEntry]] = {}
        for entry in sorted(self.files.values(), key=lambda e: e.path):
            out.setdefault(entry.partition, []).append(entry)
        return out

    def keys_meaning(self, patron_key: str) -> dict[str, int]:
        """Every stored key that now means ``patron_key``, with the alias version after which
        files no longer hold it (0 for the key itself: always look)."""
        keys = {patron_key: 0}
        for old, alias in self.aliases.items():
            if alias.to == patron_key:
                keys[old] = alias.version
        return keys

    def resolve(self, patron_key: str) -> str:
        alias = self.aliases.get(patron_key)
        return alias.to if alias else patron_key

    def to_bytes(self) -> bytes:
        body = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_version": SCHEMA_VERSION,
            "store_id": self.store_id,
            "generation": self.generation,
            "batch_seq": self.batch_seq,
            "alias_version": self.alias_version,
            "aliases": {old: asdict(a) for old, a in sorted(self.aliases.items())},
            "files": [e.to_json() for e in sorted(self.files.values(), key=lambda e: e.path)],
        }
        return json.dumps(body, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes, where: Path) -> Manifest:
        try:
            body = json.loads(data)
            if body.get("format") != FORMAT:
                raise StoreCorrupt(f"{where} is not a libcrm event store manifest")
            if body.get("format_version", 0) > FORMAT_VERSION:
                raise StoreCorrupt(
                    f"{where} was written by a newer libcrm (format {body['format_version']})"
                )
            entries = [FileEntry.from_json(e) for e in body["files"]]
            return cls(
                store_id=body["store_id"],
                generation=body["generation"],
                batch_seq=body["batch_seq"],
                alias_version=body["alias_version"],
                files={e.path: e for e in entries},
                aliases={old: Alias(**a) for old, a in body["aliases"].items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreCorrupt(f"{where} cannot be read: {exc}") from exc


def micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (no float rounding)."""
    if value.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return (value - EPOCH) // timedelta(microseconds=1)


def manifest_path(root: Path) -> Path:
    return root / layout.MANIFEST


def load(root: Path) -> Manifest:
    path = manifest_path(root)
    return Manifest.from_bytes(path.read_bytes(), path)


def publish(root: Path, manifest: Manifest) -> None:
    """Make ``manifest`` the store's state: the commit point of compactions and rewrites."""
    layout.publish_bytes(manifest_path(root), manifest.to_bytes())


class ManifestCache:
    """Keeps the parsed manifest of one store and re-reads it only when the file changed.

    A publish renames a new file into place, so (inode, mtime, size) changes with every
    generation; a stat is all a read costs when nothing changed.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._stamp: tuple[int, int, int] | None = None
        self._manifest: Manifest | None = None

    def get(self) -> Manifest:
        path = manifest_path(self.root)
        st = os.stat(path)
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp or self._manifest is None:
            self._manifest = Manifest.from_bytes(path.read_bytes(), path)
            self._stamp = stamp
        return self._manifest
