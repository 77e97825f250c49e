"""The console's one call into the ingestion pipeline: import an uploaded file with its mapping."""

from __future__ import annotations

from django.conf import settings

from libcrm.console.events_views.forms import mapping_from
from libcrm.console.events_views.uploads import Upload
from libcrm.ingest.models import IngestionRun
from libcrm.ingest.services import TABULAR, IngestError, ingest_file
from libcrm.privacy.actors import Actor


class ImportRefused(Exception):
    """The pipeline would not start the import; the message says why, for the librarian."""


def import_upload(actor: Actor, upload: Upload) -> IngestionRun:
    """Run the pipeline on the upload (it records the run, its reject report and the audit
    record); rows it rejects are in the run, only a refusal to start raises."""
    try:
        return ingest_file(
            actor,
            upload.path,
            format=TABULAR,
            source=upload.source,
            tz=upload.mapping.get("time_zone") or settings.TIME_ZONE,
            mapping=mapping_from(upload.mapping),
            file_name=upload.file_name,
        )
    except IngestError as exc:
        raise ImportRefused(str(exc)) from exc
