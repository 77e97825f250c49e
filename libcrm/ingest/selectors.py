"""Reads of the ingestion history for the console and the API."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from libcrm.ingest.models import IngestionRun
from libcrm.ingest.services import reject_report_path


def ingestion_runs() -> QuerySet[IngestionRun]:
    return IngestionRun.objects.all()


def get_run(run_id: UUID | str) -> IngestionRun | None:
    try:
        return IngestionRun.objects.filter(pk=run_id).first()
    except (ValueError, TypeError, ValidationError):  # not a UUID
        return None


def reject_report(run: IngestionRun) -> Path | None:
    """The run's reject CSV, if it has one with at least one reject."""
    path = reject_report_path(run)
    return path if run.rejected and path.exists() else None
