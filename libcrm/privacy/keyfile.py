"""The key file: where libcrm's secrets live when they are not given in the environment.

Created on first run with owner-only permissions (0600, in a 0700 folder) and always rewritten
atomically (write aside, fsync, rename), so a crash never leaves a half-written key file. It is
kept apart from the data folder so that backups of the data never carry the keys.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from libcrm.privacy.crypto import Keyring, KeyringError, new_key, new_key_id

FORMAT_VERSION = 1


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise KeyringError(f"{where} is not valid base64") from exc


def new_key_material() -> dict[str, Any]:
    field_kid, index_kid = new_key_id(), new_key_id()
    return {
        "format": FORMAT_VERSION,
        "secret_key": secrets.token_urlsafe(50),
        "field_keys": {field_kid: _b64(new_key())},
        "field_primary": field_kid,
        "index_keys": {index_kid: _b64(new_key())},
        "index_primary": index_kid,
        "pseudonym_key": _b64(new_key()),
    }


def write_atomic(path: Path, material: dict[str, Any]) -> None:
    """Replace ``path`` so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(material, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_or_create(path: Path) -> dict[str, Any]:
    """Read the key file, creating it with fresh keys if it does not exist yet."""
    if not path.exists():
        write_atomic(path, new_key_material())
    return load(path)


def load(path: Path) -> dict[str, Any]:
    try:
        material = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise KeyringError(f"key file {path} is not valid JSON: {exc}") from exc
    if not isinstance(material, dict) or material.get("format") != FORMAT_VERSION:
        raise KeyringError(
            f"key file {path} has an unknown format (expected format {FORMAT_VERSION})"
        )
    return material


def parse(material: dict[str, Any], source: str) -> Keyring:
    """Turn key material (from the key file or ``LIBCRM_KEYS``) into a :class:`Keyring`."""
    try:
        return Keyring(
            field_keys={
                kid: _unb64(v, f"{source}: field_keys[{kid}]")
                for kid, v in material["field_keys"].items()
            },
            field_primary=material["field_primary"],
            index_keys={
                kid: _unb64(v, f"{source}: index_keys[{kid}]")
                for kid, v in material["index_keys"].items()
            },
            index_primary=material["index_primary"],
            pseudonym_key=_unb64(material["pseudonym_key"], f"{source}: pseudonym_key"),
        )
    except KeyError as exc:
        raise KeyringError(f"{source}: missing {exc.args[0]!r}") from exc
    except KeyringError as exc:
        raise KeyringError(f"{source}: {exc}") from exc


def permission_problems(path: Path) -> list[str]:
    """What is wrong with the key file's permissions, as sentences an operator can act on."""
    problems = []
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        problems.append(
            f"key file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    parent_mode = stat.S_IMODE(path.parent.stat().st_mode)
    if parent_mode & 0o022:
        problems.append(
            f"key folder {path.parent} is writable by others (mode {parent_mode:o}); "
            f"run: chmod 700 {path.parent}"
        )
    return problems


def add_rotation_keys(material: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    """Stage new primary field and index keys, keeping the old ones readable.

    Returns the new material and the ids of the field and index keys being retired.
    """
    staged = json.loads(json.dumps(material))
    field_kid, index_kid = new_key_id(), new_key_id()
    retired_field = list(staged["field_keys"])
    retired_index = list(staged["index_keys"])
    staged["field_keys"][field_kid] = _b64(new_key())
    staged["field_primary"] = field_kid
    staged["index_keys"][index_kid] = _b64(new_key())
    staged["index_primary"] = index_kid
    return staged, retired_field, retired_index


def drop_retired_keys(material: dict[str, Any]) -> dict[str, Any]:
    """Keep only the primary keys, once every value has been rewritten under them."""
    pruned = json.loads(json.dumps(material))
    pruned["field_keys"] = {pruned["field_primary"]: pruned["field_keys"][pruned["field_primary"]]}
    pruned["index_keys"] = {pruned["index_primary"]: pruned["index_keys"][pruned["index_primary"]]}
    return pruned
