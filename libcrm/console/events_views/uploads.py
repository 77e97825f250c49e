"""Files staff upload for import, kept between the upload, mapping, preview and import steps.

An upload lives in its own folder under ``settings.LIBCRM_UPLOAD_DIR`` (inside the data folder,
mode 0700, never served): the file as received and ``upload.json`` with its name, size, who
uploaded it and, once chosen, the column mapping. The session only holds the upload's id, and
an upload opens only for the staff member who made it. Folders older than
:data:`KEEP_FOR` are swept away whenever a new file arrives; an import removes its file once
the run has its own report.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import unicodedata
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

KEEP_FOR = timedelta(hours=24)
META = "upload.json"
SESSION_KEY = "event_uploads"
SESSION_KEPT = 10
_ID = re.compile(r"^[0-9a-f]{32}$")
# A multipart body carries the file and a few short fields: allow this much besides the file
# before refusing on the announced length alone.
MULTIPART_SLACK = 64 * 1024


@dataclass
class Upload:
    """One uploaded file and what the librarian chose for it so far."""

    id: str
    file_name: str
    size: int
    owner_id: int
    created_at: str
    source: str = ""
    mapping: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""

    @property
    def folder(self) -> Path:
        return upload_root() / self.id

    @property
    def path(self) -> Path:
        """The file, under its own name so that notices and rejects name the file the
        librarian knows; in a folder of its own, so that no name can clash with ours."""
        return self.folder / "file" / safe_name(self.file_name)

    def save(self) -> None:
        target = self.folder / META
        spare = target.with_suffix(".tmp")
        spare.write_text(json.dumps(asdict(self), ensure_ascii=False), encoding="utf-8")
        os.replace(spare, target)


def safe_name(file_name: str) -> str:
    """The uploaded file's base name, without anything a file system would read as a path."""
    name = Path(file_name.replace("\\", "/")).name
    name = "".join("_" if unicodedata.category(ch).startswith("C") else ch for ch in name)
    name = name.strip().lstrip(".")[-120:]
    return name or "upload"


def upload_root() -> Path:
    root = Path(settings.LIBCRM_UPLOAD_DIR)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return root


def new_upload(file_name: str, owner_id: int) -> tuple[Upload, IO[bytes]]:
    """A new private folder for a file being received, and the file to write it into."""
    sweep()
    upload = Upload(
        id=uuid.uuid4().hex,
        file_name=safe_name(file_name),
        size=0,
        owner_id=owner_id,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    upload.folder.mkdir(mode=0o700)
    upload.path.parent.mkdir(mode=0o700)
    descriptor = os.open(upload.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return upload, os.fdopen(descriptor, "wb")


class PrivateUploadHandler(FileUploadHandler):
    """Streams an uploaded file straight into a new private upload folder — never into the
    system's temporary folder — and stops reading it past ``settings.LIBCRM_UPLOAD_MAX_BYTES``.

    A refused file leaves nothing behind; ``too_large`` then holds the size that was announced
    or reached, for the message. The rest of the request (the CSRF token, the other fields) is
    still read, so the page can say what happened.
    """

    def __init__(self, request: HttpRequest, owner_id: int) -> None:
        super().__init__(request)
        self.owner_id = owner_id
        self.limit: int = settings.LIBCRM_UPLOAD_MAX_BYTES
        self.announced = 0
        self.too_large = 0
        self.upload: Upload | None = None
        self._out: IO[bytes] | None = None

    def handle_raw_input(
        self, input_data: Any, META: Any, content_length: int, *args: Any, **kwargs: Any
    ) -> None:
        self.announced = content_length or 0

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        if self.upload is not None:  # one file per request; the form has one field
            raise StopUpload(connection_reset=False)
        if self.announced > self.limit + MULTIPART_SLACK:
            self.too_large = self.announced
            raise StopUpload(connection_reset=False)
        self.upload, self._out = new_upload(file_name, self.owner_id)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self._out is None:
            return None
        if start + len(raw_data) > self.limit:
            self.too_large = max(self.announced, start + len(raw_data))
            self.upload_interrupted()
            raise StopUpload(connection_reset=False)
        self._out.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self._out is None or self.upload is None:
            return None
        self._out.close()
        self._out = None
        self.upload.size = file_size
        self.upload.save()
        return UploadedFile(
            open(self.upload.path, "rb"),
            name=self.upload.file_name,
            content_type=self.content_type,
            size=file_size,
        )

    def upload_interrupted(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        if self.upload is not None:
            discard(self.upload)
            self.upload = None


def load_upload(upload_id: str, owner_id: int) -> Upload | None:
    """The upload, if it exists and belongs to ``owner_id``; else ``None``."""
    if not _ID.match(upload_id or ""):
        return None
    try:
        data = json.loads((upload_root() / upload_id / META).read_text(encoding="utf-8"))
        upload = Upload(**data)
    except (OSError, ValueError, TypeError):
        return None
    return upload if upload.owner_id == owner_id and upload.path.exists() else None


def discard(upload: Upload) -> None:
    shutil.rmtree(upload.folder, ignore_errors=True)


def sweep(now: datetime | None = None) -> int:
    """Remove uploads older than :data:`KEEP_FOR`; returns how many went."""
    limit = (now or datetime.now(UTC)).timestamp() - KEEP_FOR.total_seconds()
    removed = 0
    for folder in upload_root().iterdir():
        with contextlib.suppress(OSError):
            if folder.is_dir() and _ID.match(folder.name) and folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
    return removed


def remember(session: Any, upload: Upload) -> None:
    ids = [i for i in session.get(SESSION_KEY, []) if i != upload.id] + [upload.id]
    session[SESSION_KEY] = ids[-SESSION_KEPT:]


def in_session(session: Any, upload_id: str) -> bool:
    return upload_id in session.get(SESSION_KEY, [])
