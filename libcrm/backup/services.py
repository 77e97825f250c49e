"""Backups and restores of a whole installation: the database and every file under the data
folder (event store, features, snapshots…), in one encrypted, checksummed archive.

What a backup holds, and in what order it is taken (``create_backup``):

1. the event store's writer lock is taken, so no append, compaction or erasure runs meanwhile;
2. the database is copied consistently — SQLite through its online backup API, PostgreSQL with
   ``pg_dump --format=custom`` — into a private temporary folder;
3. the event store's manifest and exactly the files it lists, then the rest of the data folder
   (minus the database, temporary and spill files), are streamed into a tar inside the sealed
   archive (:mod:`libcrm.backup.archive`), each with its SHA-256;
4. ``manifest.json`` closes the tar: members with sizes and digests, the number of rows of every
   table and of events, the database vendor, the libcrm version;
5. the archive is written aside, fsynced and renamed into the backup folder; then uploaded to
   S3-compatible storage when configured (``LIBCRM_BACKUP_S3_URL``). A backup killed at any
   point leaves no file under a final name and no visible object.

The keys are never inside: the archive is sealed with a key derived from the installation's
pseudonym key (which never rotates, since every ``patron_key`` depends on it), so restoring needs
the key file — kept apart, as the operators' guide says.

``restore_backup`` refuses a non-empty target, verifies the archive chunk by chunk (tampering,
truncation and a wrong key are each reported as such), checks every member against its digest,
puts the database and files in place, then opens the restored database and event store and
compares every count with the manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.apps import apps
from django.conf import settings
from django.db import connection, connections

from libcrm.backup import archive, s3
from libcrm.events.store import layout
from libcrm.events.store import manifest as store_manifest
from libcrm.privacy.actors import Actor
from libcrm.privacy.keys import get_keyring
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event, reset_audit_checkpoint

FORMAT = "libcrm-backup/1"
SUFFIX = ".lcbk"
_SKIP_DIRS = {"_tmp", "tmp", "backups"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    name: str
    size: int
    sha256: str
    members: int
    counts: dict[str, int]
    events: int
    s3_uri: str | None = None
    seconds: float = 0.0


@dataclass
class RestoreResult:
    source: str
    created_at: str
    members: int
    counts: dict[str, int]
    events: int
    checked: list[str] = field(default_factory=list)


# --- keys ---------------------------------------------------------------------------------------


def backup_key() -> bytes:
    """The key that seals archives, derived from the pseudonym key (which never rotates)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"libcrm backup key v1"
    ).derive(get_keyring().pseudonym_key)


# --- what a backup contains ----------------------------------------------------------------------


def _vendor() -> str:
    return connection.vendor  # "sqlite" or "postgresql"


def table_counts() -> dict[str, int]:
    """Rows per model table, the figure a restore must find again."""
    with connection.cursor() as cursor:
        return _count(cursor, _tables(), connection.ops.quote_name)


def _pg_tool(name: str) -> str:
    configured = os.environ.get("LIBCRM_PG_BIN")
    candidates = [Path(configured) / name] if configured else []
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    candidates += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    raise BackupError(
        f"{name} was not found: install the PostgreSQL client tools or set LIBCRM_PG_BIN"
    )


def _pg_env() -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = ["--host", str(db.get("HOST") or "127.0.0.1"), "--port", str(db.get("PORT") or 5432)]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    return args, env


def _tables() -> list[str]:
    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if not model._meta.proxy and model._meta.managed
    )


def _count(cursor: Any, tables: list[str], quote: Any) -> dict[str, int]:
    counts = {}
    for table in tables:
        cursor.execute(f"SELECT count(*) FROM {quote(table)}")  # noqa: S608 (model tables)
        counts[table] = cursor.fetchone()[0]
    return counts


def _snapshot_database(folder: Path) -> tuple[Path, dict[str, int]]:
    """A consistent copy of the database and the row counts *of that copy*."""
    tables = _tables()
    if _vendor() == "sqlite":
        target = folder / "libcrm.sqlite3"
        source = sqlite3.connect(str(settings.DATABASES["default"]["NAME"]))
        copy = sqlite3.connect(str(target))
        try:
            source.backup(copy)
            counts = _count(copy.cursor(), tables, connection.ops.quote_name)
        finally:
            copy.close()
            source.close()
        return target, counts
    if _vendor() == "postgresql":
        # One exported snapshot serves both the counts and pg_dump, so they agree exactly even
        # while the library keeps working.
        target = folder / "libcrm.pgdump"
        args, env = _pg_env()
        name = settings.DATABASES["default"]["NAME"]
        with connection.cursor() as cursor:
            connection.set_autocommit(False)
            try:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
                counts = _count(cursor, tables, connection.ops.quote_name)
                command = [_pg_tool("pg_dump"), *args, "--format=custom", "--no-owner"]
                # the arguments come from the settings and a private temp path, not a request
                done = subprocess.run(  # noqa: S603
                    [*command, f"--snapshot={snapshot}", "--file", str(target), str(name)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            finally:
                connection.rollback()
                connection.set_autocommit(True)
        if done.returncode:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[:500]}")
        return target, counts
    raise BackupError(f"backups of a {_vendor()} database are not supported")


def _database_files() -> set[Path]:
    if _vendor() != "sqlite":
        return set()
    db = Path(settings.DATABASES["default"]["NAME"]).resolve()
    return {db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")}


def _data_files(data_dir: Path, store_root: Path, skip: set[Path]) -> Iterator[tuple[Path, str]]:
    """Files under the data folder other than the database and the event store (which is taken
    from its manifest), as (path, name in the archive)."""
    for dirpath, dirnames, filenames in os.walk(data_dir):
        here = Path(dirpath)
        if here == store_root:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            path = here / name
            if path.resolve() in skip or name.startswith(".") or name.endswith(".tmp"):
                continue
            yield path, "data/" + path.relative_to(data_dir).as_posix()


class _HashingTar:
    """Adds files to a streaming tar and remembers each member's size and SHA-256."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members: dict[str, dict[str, Any]] = {}
        self.events = 0

    def add(self, path: Path, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.size = path.stat().st_size
        info.mtime = int(path.stat().st_mtime)
        info.mode = 0o600
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            self.tar.addfile(info, _Tee(handle, digest))
        self.members[name] = {"size": info.size, "sha256": digest.hexdigest()}

    def add_bytes(self, data: bytes, name: str) -> None:
        import io

        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = int(datetime.now(UTC).timestamp())
        info.mode = 0o600
        self.tar.addfile(info, io.BytesIO(data))


class _Tee:
    def __init__(self, handle: IO[bytes], digest: Any) -> None:
        self.handle, self.digest = handle, digest

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        return data


def _backup_dir() -> Path:
    folder = Path(settings.LIBCRM_BACKUP_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


@contextlib.contextmanager
def _private_tempdir() -> Iterator[Path]:
    base = Path(settings.LIBCRM_HOME) / "tmp"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(dir=base, prefix="backup-") as name:
        os.chmod(name, 0o700)
        yield Path(name)


def _sweep_partials(folder: Path, *, keep: Path) -> None:
    """Remove what killed backups left. Backups run under the store's writer lock, so any other
    partial file belongs to a process that died."""
    for stale in folder.glob(f".*{SUFFIX}.partial"):
        if stale != keep:
            stale.unlink(missing_ok=True)


def create_backup(actor: Actor, *, upload: bool = True, on_step: Any = None) -> BackupResult:
    """Write one archive of this installation to the backup folder (and to S3 when configured
    and ``upload``). Audited as BACKUP."""
    started = datetime.now(UTC)
    step = on_step or (lambda _text: None)
    store_root = Path(settings.LIBCRM_EVENT_STORE_DIR).resolve()
    data_dir = Path(settings.LIBCRM_DATA_DIR).resolve()
    name = f"libcrm-{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}{SUFFIX}"
    folder = _backup_dir()
    final = folder / name
    partial = folder / f".{name}.partial"
    key = backup_key()
    store_root.mkdir(parents=True, exist_ok=True)
    try:
        with (
            _private_tempdir() as work,
            layout.exclusive_lock(store_root / layout.LOCK, 600.0),
            partial.open("xb") as sink,
        ):
            os.chmod(partial, 0o600)
            _sweep_partials(folder, keep=partial)
            step("database")
            db_copy, counts = _snapshot_database(work)
            sealed = archive.SealingWriter(sink, key)
            with tarfile.open(fileobj=sealed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                members = _pack(tar, db_copy, store_root, data_dir, folder, step)
                manifest = {
                    "format": FORMAT,
                    "created_at": started.isoformat(),
                    "libcrm_version": _version(),
                    "database": _vendor(),
                    "database_file": f"database/{db_copy.name}",
                    "tables": counts,
                    "events": members.events,
                    "members": members.members,
                }
                members.add_bytes(
                    json.dumps(manifest, indent=2, sort_keys=True).encode(), "manifest.json"
                )
            sealed.close()
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(partial, final)
        layout.fsync_dir(folder)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    digest = _sha256_file(final)
    (folder / f"{name}.sha256").write_text(f"{digest}  {name}\n", encoding="ascii")
    result = BackupResult(
        path=final,
        name=name,
        size=final.stat().st_size,
        sha256=digest,
        members=len(members.members),
        counts=counts,
        events=members.events,
    )
    if upload and settings.LIBCRM_BACKUP_S3_URL:
        step("upload")
        result.s3_uri = s3.upload(final, digest)
    result.seconds = (datetime.now(UTC) - started).total_seconds()
    record_audit_event(
        actor,
        AuditAction.BACKUP,
        target=f"backup:{name}",
        detail={
            "size": result.size,
            "sha256": digest,
            "members": result.members,
            "events": members.events,
            "offsite": bool(result.s3_uri),
        },
    )
    return result


def _pack(
    tar: tarfile.TarFile,
    db_copy: Path,
    store_root: Path,
    data_dir: Path,
    backups: Path,
    step: Any,
) -> _HashingTar:
    """The database copy, the event store as its manifest lists it, then the other data files."""
    members = _HashingTar(tar)
    members.add(db_copy, f"database/{db_copy.name}")
    db_copy.unlink()
    step("event store")
    manifest_file = store_manifest.manifest_path(store_root)
    if manifest_file.exists():
        current = store_manifest.load(store_root)
        members.add(manifest_file, f"events/{layout.MANIFEST}")
        for entry in sorted(current.files.values(), key=lambda e: e.path):
            members.add(store_root / entry.path, f"events/{entry.path}")
            members.events += entry.rows
    step("data files")
    skip = _database_files() | {backups.resolve()}
    for path, arcname in _data_files(data_dir, store_root, skip):
        members.add(path, arcname)
    return members


def _version() -> str:
    try:
        return metadata.version("libcrm")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_backups() -> list[dict[str, Any]]:
    """Local archives, newest first, with their size and recorded checksum."""
    rows = []
    for path in sorted(_backup_dir().glob(f"*{SUFFIX}"), reverse=True):
        sidecar = path.with_name(path.name + ".sha256")
        rows.append(
            {
                "name": path.name,
                "size": path.stat().st_size,
                "sha256": sidecar.read_text().split()[0] if sidecar.exists() else "",
            }
        )
    return rows


# --- restore ------------------------------------------------------------------------------------


def _target_is_empty(data_dir: Path) -> list[str]:
    """What already lives where the restore would write (it must be nothing)."""
    found = []
    db = settings.DATABASES["default"]
    if _vendor() == "sqlite":
        path = Path(db["NAME"])
        if path.exists() and path.stat().st_size > 0:
            found.append(str(path))
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )
            if cursor.fetchone()[0]:
                found.append(f"PostgreSQL database {db['NAME']}")
    store = Path(settings.LIBCRM_EVENT_STORE_DIR)
    if (store / layout.MANIFEST).exists():
        found.append(str(store))
    return found


def _extract(source: Path, key: bytes, staging: Path) -> dict[str, Any]:
    """Decrypt and unpack into ``staging``, checking every member against the manifest."""
    digests: dict[str, tuple[int, str]] = {}
    manifest: dict[str, Any] | None = None
    with source.open("rb") as raw:
        reader = archive.OpeningReader(raw, key)
        buffered = _Buffered(reader)
        try:
            with tarfile.open(fileobj=buffered, mode="r|") as tar:
                for member in tar:
                    if not member.isfile() or member.name.startswith("/") or ".." in member.name:
                        raise archive.TamperedArchive(f"unexpected member {member.name!r}")
                    handle = tar.extractfile(member)
                    assert handle is not None
                    if member.name == "manifest.json":
                        manifest = json.loads(handle.read())
                        continue
                    target = staging / member.name
                    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                    digest = hashlib.sha256()
                    with target.open("xb") as out:
                        for block in iter(lambda h=handle: h.read(1 << 20), b""):
                            digest.update(block)
                            out.write(block)
                    digests[member.name] = (member.size, digest.hexdigest())
        except tarfile.TarError as exc:
            raise archive.TamperedArchive(f"the archive's contents are damaged: {exc}") from exc
    if manifest is None or manifest.get("format") != FORMAT:
        raise archive.TamperedArchive("the archive has no libcrm manifest")
    expected = manifest["members"]
    if set(expected) != set(digests):
        missing = sorted(set(expected) - set(digests))
        extra = sorted(set(digests) - set(expected))
        raise archive.TamperedArchive(f"members differ from the manifest: {missing + extra}")
    for name, (size, digest) in digests.items():
        if expected[name]["size"] != size or expected[name]["sha256"] != digest:
            raise archive.TamperedArchive(f"{name} does not match its checksum")
    return manifest


class _Buffered:
    """A minimal read() adapter over a RawIOBase for tarfile's stream mode."""

    def __init__(self, raw: archive.OpeningReader) -> None:
        self.raw = raw

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.raw.read(1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        out = bytearray()
        while len(out) < size:
            chunk = self.raw.read(size - len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)


def verify_backup(source: str) -> dict[str, Any]:
    """Decrypt and check a whole archive (every chunk, every member's checksum) without
    restoring it; returns its manifest. For regular restore drills of off-site copies."""
    key = backup_key()
    with _private_tempdir() as work:
        local = _fetch(source, work)
        staging = work / "staging"
        staging.mkdir(mode=0o700)
        return _extract(local, key, staging)


def _fetch(source: str, work: Path) -> Path:
    if source.startswith("s3://"):
        return s3.download(source, work / "archive")
    local = Path(source)
    if not local.is_file():
        raise BackupError(f"{source}: no such backup archive")
    sidecar = local.with_name(local.name + ".sha256")
    if sidecar.exists() and sidecar.read_text().split()[0] != _sha256_file(local):
        raise archive.TamperedArchive(
            f"{local.name} does not match its recorded checksum ({sidecar.name})"
        )
    return local


def restore_backup(
    source: str, *, actor: Actor | None = None, on_step: Any = None
) -> RestoreResult:
    """Rebuild this (empty) installation from an archive: a local path or an ``s3://`` URI.

    Nothing is put in place until the whole archive has been verified; a failed restore leaves
    the target as it was (empty)."""
    step = on_step or (lambda _text: None)
    data_dir = Path(settings.LIBCRM_DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    occupied = _target_is_empty(data_dir)
    if occupied:
        raise BackupError(
            "restore needs an empty installation, but these already hold data: "
            + ", ".join(occupied)
        )
    key = backup_key()
    with _private_tempdir() as work:
        step("fetch")
        local = _fetch(source, work)
        step("verify")
        staging = work / "staging"
        staging.mkdir(mode=0o700)
        manifest = _extract(local, key, staging)
        if manifest["database"] != _vendor():
            raise BackupError(
                f"this archive holds a {manifest['database']} database; "
                f"this installation uses {_vendor()}"
            )
        step("database")
        _place_database(staging / manifest["database_file"])
        step("files")
        store_root = Path(settings.LIBCRM_EVENT_STORE_DIR)
        for name in manifest["members"]:
            if name.startswith("events/"):
                target = store_root / name.removeprefix("events/")
            elif name.startswith("data/"):
                target = data_dir / name.removeprefix("data/")
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.move(staging / name, target)
    step("check")
    result = _check_restored(source, manifest)
    # the audit chain now ends where the backup's did: its checkpoint must agree, or `audit
    # verify` would report the records written after the backup as cut off
    reset_audit_checkpoint(actor or Actor.system("restore"))
    record_audit_event(
        actor or Actor.system("restore"),
        AuditAction.RESTORE,
        target=f"backup:{Path(source).name}",
        detail={"members": result.members, "events": result.events, "checks": result.checked},
    )
    return result


def _place_database(dump: Path) -> None:
    connections.close_all()
    if _vendor() == "sqlite":
        target = Path(settings.DATABASES["default"]["NAME"])
        for stale in (target, target.with_name(target.name + "-wal")):
            stale.unlink(missing_ok=True)
        target.with_name(target.name + "-shm").unlink(missing_ok=True)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.move(dump, target)
        return
    args, env = _pg_env()
    command = [_pg_tool("pg_restore"), *args, "--no-owner", "--exit-on-error"]
    done = subprocess.run(  # noqa: S603
        [*command, "--dbname", str(settings.DATABASES["default"]["NAME"]), str(dump)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise BackupError(f"pg_restore failed: {done.stderr.strip()[:500]}")


def _check_restored(source: str, manifest: dict[str, Any]) -> RestoreResult:
    counts = table_counts()
    wrong = {
        table: (expected, counts.get(table))
        for table, expected in manifest["tables"].items()
        if counts.get(table) != expected
    }
    if wrong:
        raise BackupError(f"restored row counts differ from the archive: {wrong}")
    from libcrm.events.services import event_store

    store = event_store()
    events = sum(entry.rows for entry in store.manifest.files.values())
    if events != manifest["events"]:
        raise BackupError(
            f"the restored event store holds {events} events; the archive recorded "
            f"{manifest['events']}"
        )
    checked = [f"{len(counts)} tables", f"{events} events", f"{len(manifest['members'])} files"]
    return RestoreResult(
        source=source,
        created_at=manifest["created_at"],
        members=len(manifest["members"]),
        counts=counts,
        events=events,
        checked=checked,
    )
