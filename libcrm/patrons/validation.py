"""The rules a patron record must satisfy, shared by the console, the API, the CLI and imports.

``clean_patron_fields`` turns raw values (from a form, JSON or a file) into model values, or
raises :class:`PatronError` listing every offending field at once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from libcrm.patrons.errors import FieldProblem, PatronError
from libcrm.patrons.models import (
    Branch,
    Department,
    Discipline,
    Gender,
    Patron,
    PatronCategory,
    PatronStatus,
)

TEXT_LIMITS = {"name": 100, "research_specialty": 200, "address": 300, "notes": 2000}
CHOICES = {
    "gender": Gender,
    "category": PatronCategory,
    "status": PatronStatus,
    "discipline": Discipline,
}
PATRON_FIELDS = (
    "name",
    "gender",
    "birth_year",
    "category",
    "department",
    "discipline",
    "research_specialty",
    "home_branch",
    "registered_on",
    "expires_on",
    "status",
    "address",
    "notes",
)
REQUIRED = ("name", "category")
EARLIEST_BIRTH_YEAR = 1900


def _text(path: str, value: Any, limit: int, problems: list[FieldProblem]) -> str | None:
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(FieldProblem(path, _("must be text")))
        return None
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > limit:
        problems.append(
            FieldProblem(
                path,
                _("must be at most %(limit)d characters (got %(got)d)")
                % {"limit": limit, "got": len(text)},
            )
        )
        return None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        problems.append(FieldProblem(path, _("must not contain control characters")))
        return None
    return text


def _date(path: str, value: Any, problems: list[FieldProblem]) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(FieldProblem(path, _("must be a date written YYYY-MM-DD")))
    return None


def clean_patron_fields(
    raw: Mapping[str, Any], *, existing: Patron | None = None
) -> dict[str, Any]:
    """Validate ``raw`` for a new patron, or for changes to ``existing`` (then fields may be
    missing, and cross-field rules are checked against the current values)."""
    partial = existing is not None
    problems: list[FieldProblem] = []
    unknown = sorted(set(raw) - set(PATRON_FIELDS))
    for key in unknown:
        problems.append(FieldProblem(key, _("is not a patron field")))
    cleaned: dict[str, Any] = {}
    for key in PATRON_FIELDS:
        if key not in raw:
            if not partial and key in REQUIRED:
                problems.append(FieldProblem(key, _("is required")))
            continue
        value = raw[key]
        if key in TEXT_LIMITS:
            text = _text(key, value, TEXT_LIMITS[key], problems)
            if text is None:
                continue
            if key in REQUIRED and not text:
                problems.append(FieldProblem(key, _("must not be empty")))
                continue
            cleaned[key] = text
        elif key in CHOICES:
            choices = CHOICES[key]
            if (value in (None, "")) and key == "discipline":
                cleaned[key] = ""
            elif value not in choices.values:
                problems.append(
                    FieldProblem(
                        key,
                        _("must be one of: %(choices)s") % {"choices": ", ".join(choices.values)},
                    )
                )
            else:
                cleaned[key] = value
        elif key == "birth_year":
            cleaned[key] = _birth_year(value, problems)
        elif key in ("registered_on", "expires_on"):
            day = _date(key, value, problems)
            if day is None and key == "registered_on":
                if value in (None, ""):
                    problems.append(FieldProblem(key, _("is required")))
                continue
            cleaned[key] = day
        elif key == "department":
            cleaned[key] = _lookup(Department, key, value, problems)
        elif key == "home_branch":
            cleaned[key] = _lookup(Branch, key, value, problems)
    start = cleaned.get("registered_on", existing.registered_on if existing else None)
    end = cleaned.get("expires_on", existing.expires_on if existing else None)
    if start and end and end < start:
        problems.append(FieldProblem("expires_on", _("must not be before the registration date")))
    if problems:
        raise PatronError(problems)
    return cleaned


def _birth_year(value: Any, problems: list[FieldProblem]) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        problems.append(FieldProblem("birth_year", _("must be a whole number such as 1998")))
        return None
    try:
        year = int(value)
    except ValueError:
        problems.append(FieldProblem("birth_year", _("must be a whole number such as 1998")))
        return None
    this_year = timezone.localdate().year
    if not EARLIEST_BIRTH_YEAR <= year <= this_year:
        problems.append(
            FieldProblem(
                "birth_year",
                _("must be between %(low)d and %(high)d")
                % {"low": EARLIEST_BIRTH_YEAR, "high": this_year},
            )
        )
        return None
    return year


def _lookup(
    model: type[Branch] | type[Department], path: str, value: Any, problems: list[FieldProblem]
) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, model):
        return value
    if not isinstance(value, str):
        problems.append(FieldProblem(path, _("must be a code (text)")))
        return None
    found = model.objects.filter(code=value).first()
    if found is None:
        problems.append(
            FieldProblem(
                path,
                _("no %(what)s has the code %(code)s")
                % {"what": model._meta.verbose_name, "code": value},
            )
        )
    return found
