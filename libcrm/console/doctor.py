"""The health checks behind ``libcrm doctor``: configuration, database, data folder, keys, staff.

Every check returns :class:`Finding` values — ok, warning or error, each error with the fix an
operator can run — so that tests call the checks directly and the command only prints them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import TextField
from django.db.models.functions import Cast

from libcrm.privacy import crypto, keyfile, rotation
from libcrm.privacy.crypto import DecryptionError, Keyring, KeyringError
from libcrm.staff.roles import ROLE_PERMISSIONS, Role

MIN_FREE_BYTES = 100 * 2**20  # below this, writes (and SQLite's WAL) start failing
LOW_FREE_BYTES = 2**30
SAMPLE_SIZE = 100  # values per encrypted column (oldest and newest) opened to check the keys
RESTORE_KEY_FILE = (
    "restore the key file that belongs to this database from your key backup and point "
    "LIBCRM_KEY_FILE at it (libcrm creates a fresh key file when it finds none, and fresh keys "
    "cannot open old data)"
)


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Finding:
    status: Status
    message: str
    fix: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    findings: list[Finding]


def ok(message: str) -> Finding:
    return Finding(Status.OK, message)


def warning(message: str, fix: str = "") -> Finding:
    return Finding(Status.WARNING, message, fix)


def error(message: str, fix: str = "") -> Finding:
    return Finding(Status.ERROR, message, fix)


def run_checks() -> list[Section]:
    """Every check, in the order an operator fixes things; database-dependent checks are skipped
    when the database cannot be reached."""
    sections = [Section("Configuration", check_settings())]
    connected = check_database_reachable()
    reachable = connected.status is Status.OK
    database = [connected]
    migrated = False
    if reachable:
        migrations = _guarded("migrations", check_migrations, migrated=True)
        migrated = all(f.status is Status.OK for f in migrations)
        database += migrations + _guarded("journal mode", check_sqlite_journal, migrated=True)
    sections.append(Section("Database", database))
    data_dir = Path(settings.LIBCRM_DATA_DIR)
    sections.append(Section("Data folder", check_data_folder(data_dir, holds_database(data_dir))))
    keys, keyring = check_keys()
    if keyring is not None and reachable:
        keys += _guarded("stored values", lambda: check_ciphertexts(keyring), migrated=migrated)
        keys += _guarded("search digests", check_blind_indexes, migrated=migrated)
    sections.append(Section("Keys", keys))
    if reachable:
        staff = _guarded("roles", check_roles, migrated=migrated)
        staff += _guarded("administrators", check_administrators, migrated=migrated)
    else:
        staff = [Finding(Status.SKIPPED, "roles and administrators: the database is unreachable")]
    sections.append(Section("Staff", staff))
    return sections


def _guarded(what: str, check: Callable[[], list[Finding]], *, migrated: bool) -> list[Finding]:
    """Run a database check; with migrations pending, a missing table is expected, not news."""
    try:
        return check()
    except DatabaseError as exc:
        if not migrated:
            return [Finding(Status.SKIPPED, f"{what}: not checked until the database is migrated")]
        return [error(f"could not check {what}: {exc}", "libcrm migrate")]


# -- configuration ------------------------------------------------------------------------------
def check_settings() -> list[Finding]:
    found = [ok(f"settings loaded from {settings.SETTINGS_MODULE} (home {settings.LIBCRM_HOME})")]
    if settings.DEBUG:
        found.append(
            warning(
                "DEBUG is on: error pages show source code and settings to whoever causes them",
                "unset LIBCRM_DEBUG (or set LIBCRM_DEBUG=0) outside development",
            )
        )
    else:
        found.append(ok("DEBUG is off"))
    return found


# -- database -----------------------------------------------------------------------------------
def describe_database() -> str:
    details = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(details["NAME"])
        if connection.creation.is_in_memory_db(name):
            return f"SQLite {sqlite3.sqlite_version} in memory"
        path = Path(name)
        size = f", {path.stat().st_size / 2**20:.1f} MB" if path.exists() else ""
        return f"SQLite {sqlite3.sqlite_version} at {path}{size}"
    if connection.vendor == "postgresql":
        where = f"{details.get('HOST') or 'local socket'}:{details.get('PORT') or 5432}"
        return f"PostgreSQL at {where}, database {details['NAME']}, user {details.get('USER')}"
    return f"{connection.vendor} database {details['NAME']}"


def check_database_reachable() -> Finding:
    where = describe_database()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means the same thing to an operator
        if connection.vendor == "sqlite":
            folder = Path(str(connection.settings_dict["NAME"])).parent
            fix = f"check that {folder} exists and this user may write to it, or set DATABASE_URL"
        else:
            fix = "check that the server runs and that DATABASE_URL has the right host, port, "
            fix += "database, user and password"
        reason = " ".join(str(exc).split())  # drivers spread one reason over several lines
        return error(f"database unreachable ({where}): {reason}", fix)
    if connection.vendor == "postgresql":
        version = connection.pg_version
        where = where.replace("PostgreSQL", f"PostgreSQL {version // 10000}.{version % 10000}")
    return ok(f"database reachable: {where}")


def unapplied_migrations() -> list[str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def check_migrations() -> list[Finding]:
    executor = MigrationExecutor(connection)
    conflicts = executor.loader.detect_conflicts()
    if conflicts:
        names = "; ".join(f"{app}: {', '.join(m)}" for app, m in sorted(conflicts.items()))
        return [error(f"conflicting migrations ({names})", "report this as a bug in libcrm")]
    pending = unapplied_migrations()
    if pending:
        shown = ", ".join(pending[:5]) + (
            f" and {len(pending) - 5} more" if len(pending) > 5 else ""
        )
        return [error(f"{len(pending)} migrations not applied: {shown}", "libcrm migrate")]
    return [ok(f"all {len(executor.loader.applied_migrations)} migrations applied")]


def check_sqlite_journal() -> list[Finding]:
    if connection.vendor != "sqlite":
        return []
    if connection.creation.is_in_memory_db(str(connection.settings_dict["NAME"])):
        return [ok("in-memory database (a test run): no journal")]
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        mode = str(cursor.fetchone()[0]).lower()
    if mode != "wal":
        return [
            warning(
                f"SQLite journal mode is {mode}, not WAL: readers and the writer block each other",
                "keep the data folder on a local disk (WAL does not work on network file systems)",
            )
        ]
    return [ok("SQLite in WAL mode")]


# -- data folder --------------------------------------------------------------------------------
def holds_database(folder: Path) -> bool:
    """Whether the database is an SQLite file inside ``folder``."""
    if connection.vendor != "sqlite":
        return False
    name = str(connection.settings_dict["NAME"])
    if connection.creation.is_in_memory_db(name):
        return False
    return Path(name).resolve().is_relative_to(folder.resolve())


def check_data_folder(folder: Path, holds_database: bool = True) -> list[Finding]:
    """The folder exists, is writable, private and has room. Without the database in it (e.g.
    with PostgreSQL) a missing folder is only a warning: it is created when first needed."""
    if not folder.is_dir():
        fix = f"mkdir -p -m 700 {folder} (or set LIBCRM_DATA_DIR to where the data is)"
        if holds_database:
            return [error(f"data folder {folder} does not exist", fix)]
        return [warning(f"data folder {folder} does not exist yet", fix)]
    found = []
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
        found.append(ok(f"data folder {folder} exists and is writable"))
    except OSError as exc:
        found.append(
            error(
                f"data folder {folder} is not writable: {exc.strerror}",
                f"chown -R {_user()} {folder} && chmod 700 {folder}",
            )
        )
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        found.append(
            warning(
                f"data folder {folder} is open to other users (mode {mode:o})",
                f"chmod 700 {folder}",
            )
        )
    free = shutil.disk_usage(folder).free
    text = f"{free / 2**30:.1f} GiB free on the data folder's disk"
    if free < MIN_FREE_BYTES:
        found.append(error(text, "free disk space or move LIBCRM_DATA_DIR to a larger disk"))
    elif free < LOW_FREE_BYTES:
        found.append(warning(text, "free disk space soon: the database and backups grow"))
    else:
        found.append(ok(text))
    return found


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid())


# -- keys ---------------------------------------------------------------------------------------
def check_keys() -> tuple[list[Finding], Keyring | None]:
    """Where the keys come from, the key file's permissions, and whether the keyring is whole.
    Returns the findings and the keyring (None when it cannot be used)."""
    source = settings.LIBCRM_KEY_SOURCE
    from_environment = source.startswith("environment")
    found: list[Finding] = []
    if from_environment:
        found.append(ok("keys come from the environment variable LIBCRM_KEYS"))
    else:
        path = Path(settings.LIBCRM_KEY_FILE)
        if not path.is_file():
            found.append(error(f"key file {path} does not exist", RESTORE_KEY_FILE))
            return found, None
        found.append(ok(f"keys come from the key file {path}"))
        found += _check_key_file(path)
    try:
        keyring = keyfile.parse(settings.LIBCRM_KEY_MATERIAL, source)
    except KeyringError as exc:
        fix = "correct LIBCRM_KEYS in your secret store" if from_environment else RESTORE_KEY_FILE
        found.append(error(f"the keyring cannot be used: {exc}", fix))
        return found, None
    found.append(
        ok(
            f"keyring parses: field key {keyring.field_primary} and index key "
            f"{keyring.index_primary} are primary"
        )
    )
    retired_field = sorted(set(keyring.field_keys) - {keyring.field_primary})
    retired_index = sorted(set(keyring.index_keys) - {keyring.index_primary})
    if retired_field or retired_index:
        listed = ", ".join(retired_field + retired_index)
        if from_environment:
            found.append(
                warning(
                    f"LIBCRM_KEYS still holds retired keys ({listed})",
                    "libcrm rotate-keys --reseal-only, then remove them from LIBCRM_KEYS",
                )
            )
        else:
            found.append(
                warning(
                    f"the key file still holds retired keys ({listed}): a key rotation was "
                    "interrupted half-way (data stays readable)",
                    "libcrm rotate-keys (it finishes the interrupted rotation)",
                )
            )
    return found, keyring


def _check_key_file(path: Path) -> list[Finding]:
    found = []
    for problem in keyfile.permission_problems(path):
        message, _sep, command = problem.partition("; run: ")
        found.append(error(message, command))
    folder_mode = stat.S_IMODE(path.parent.stat().st_mode)
    if folder_mode & 0o077 and not folder_mode & 0o022:
        found.append(
            warning(
                f"key folder {path.parent} can be listed by other users (mode {folder_mode:o})",
                f"chmod 700 {path.parent}",
            )
        )
    if not found:
        found.append(ok("key file is readable by its owner only (600, folder 700)"))
    data_dir = Path(settings.LIBCRM_DATA_DIR).resolve()
    if path.resolve().is_relative_to(data_dir):
        found.append(
            warning(
                "the key file is inside the data folder, so every backup of the data carries the "
                "keys that open it",
                "move it out of LIBCRM_DATA_DIR (e.g. to LIBCRM_HOME/keys) and set LIBCRM_KEY_FILE",
            )
        )
    return found


def check_ciphertexts(keyring: Keyring) -> list[Finding]:
    """Every stored value's key is in the keyring, and a sample of values actually opens."""
    found: list[Finding] = []
    counts = rotation.stored_key_ids()
    for label, by_key in counts.items():
        unknown = {kid: n for kid, n in by_key.items() if kid not in keyring.field_keys}
        if unknown:
            listed = ", ".join(f"{n:,} with key {kid}" for kid, n in sorted(unknown.items()))
            found.append(
                error(
                    f"{label}: values sealed with keys that are not in the keyring ({listed})",
                    RESTORE_KEY_FILE,
                )
            )
            return found
    stale = {
        label: sum(n for kid, n in by_key.items() if kid != keyring.field_primary)
        for label, by_key in counts.items()
    }
    stale = {label: n for label, n in stale.items() if n}
    if stale:
        listed = ", ".join(f"{label} ({n:,})" for label, n in sorted(stale.items()))
        found.append(
            warning(
                f"values still sealed with retired keys: {listed}",
                "libcrm rotate-keys"
                if not settings.LIBCRM_KEY_SOURCE.startswith("environment")
                else "libcrm rotate-keys --reseal-only",
            )
        )
    opened = 0
    for column in rotation.encrypted_columns():
        for pk, token in _sample(column):
            try:
                crypto.decrypt(keyring, token, column.field.crypto_context)
            except DecryptionError as exc:
                found.append(
                    error(
                        f"{column.label} (table {column.table}, row {pk}) does not open: {exc}",
                        "the stored value was changed outside libcrm or copied from another "
                        "column; restore that row from a backup",
                    )
                )
                return found
            opened += 1
    total = sum(sum(by_key.values()) for by_key in counts.values())
    if total:
        found.append(ok(f"{opened:,} sampled of {total:,} encrypted values open with the keyring"))
    else:
        found.append(ok("no encrypted values stored yet"))
    return found


def _sample(column: rotation.EncryptedColumn) -> list[tuple[object, str]]:
    raw = (
        column.model._base_manager.annotate(_raw=Cast(column.field.name, TextField()))
        .exclude(_raw__isnull=True)
        .exclude(_raw="")
        .values_list("pk", "_raw")
    )
    half = SAMPLE_SIZE // 2
    rows = list(raw.order_by("pk")[:half]) + list(raw.order_by("-pk")[:half])
    return list(dict(rows).items())


def check_blind_indexes() -> list[Finding]:
    """A sample of identifiers and names is still findable: their stored digests were made with
    an index key the keyring holds."""
    from libcrm.patrons.identifiers import InvalidIdentifier, normalise
    from libcrm.patrons.models import Identifier, Patron
    from libcrm.patrons.names import name_terms
    from libcrm.patrons.services import NAME_CONTEXT, identifier_digest_candidates
    from libcrm.privacy.keys import get_keyring

    lost_identifiers = checked = 0
    try:
        for identifier in Identifier.objects.filter(value__isnull=False).order_by("-pk")[
            :SAMPLE_SIZE
        ]:
            try:
                normal = normalise(identifier.kind, identifier.value or "")
            except InvalidIdentifier:
                continue
            checked += 1
            if identifier.digest not in identifier_digest_candidates(identifier.kind, normal):
                lost_identifiers += 1
        lost_names = 0
        keyring = get_keyring()
        patrons = Patron.objects.only("pk", "name").prefetch_related("name_terms")
        for patron in patrons.order_by("-pk")[:SAMPLE_SIZE]:
            stored = {term.digest for term in patron.name_terms.all()}
            for term in name_terms(patron.name):
                if not stored & set(crypto.blind_index_candidates(keyring, NAME_CONTEXT, term)):
                    lost_names += 1
                    break
            checked += 1
    except DecryptionError:
        return []  # check_ciphertexts reports values that do not open
    if lost_identifiers or lost_names:
        return [
            error(
                f"search digests made with an index key the keyring does not hold: "
                f"{lost_identifiers} sampled identifiers and {lost_names} sampled names cannot be "
                "found by a search",
                "libcrm rotate-keys --reseal-only (recomputes every digest with the primary key)",
            )
        ]
    if not checked:
        return [ok("no identifiers or names stored yet")]
    return [ok(f"{checked:,} sampled identifiers and names are findable by search")]


# -- staff --------------------------------------------------------------------------------------
def check_roles() -> list[Finding]:
    groups = {g.name: g for g in Group.objects.prefetch_related("permissions__content_type")}
    missing = [role.value for role in Role if role.value not in groups]
    if missing:
        return [error(f"roles missing: {', '.join(missing)}", "libcrm migrate (it sets up roles)")]
    drifted = []
    for role, wanted in ROLE_PERMISSIONS.items():
        held = {f"{p.content_type.app_label}.{p.codename}" for p in groups[role].permissions.all()}
        if held != set(wanted):
            drifted.append(role.value)
    if drifted:
        return [
            error(
                f"roles whose permissions differ from libcrm's table: {', '.join(drifted)}",
                "libcrm migrate (it resets every role's permissions)",
            )
        ]
    return [ok(f"all {len(Role)} roles exist with their permissions")]


def check_administrators() -> list[Finding]:
    admins = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=Role.ADMINISTRATOR.value)
        .distinct()
        .count()
    )
    if not admins:
        return [
            error(
                "no active administrator: nobody can manage staff, API tokens or the audit trail",
                "libcrm add-staff --username <name> --role administrator",
            )
        ]
    return [ok(f"{admins} active administrator{'s' if admins > 1 else ''}")]
