"""Forms of the import steps: the file, then how its columns become event fields.

The mapping form turns the librarian's choices into a
:class:`~libcrm.events.connectors.tabular.ColumnMapping`; the connector's own ``check`` is the
rule, the form only adds messages for the mistakes one makes with a form (the same column
chosen twice, a field neither from a column nor fixed).
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from libcrm.console.events_views.labels import channel_choices, type_choices
from libcrm.events.connectors.base import ConnectorError
from libcrm.events.connectors.tabular import ColumnMapping
from libcrm.patrons.models import IDENTIFIER_KIND_LABELS, Branch

COLUMN = "column:"
FIXED = "fixed:"
NONE = [("", "—")]

source_name = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
    _("Use 1 to 64 letters, digits, dots, dashes or underscores, such as gate-east or koha-main."),
)


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("A CSV (UTF-8 or GBK) or an Excel workbook (.xlsx), with a header row."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx,.xlsm,.gz"}),
    )
    source = forms.CharField(
        label=_("Source"),
        max_length=64,
        validators=[source_name],
        help_text=_(
            "The system the file comes from. Importing the same rows under the same source "
            "again adds nothing."
        ),
    )


# The fields a column can feed, in the order the form lists them, with what they mean.
FIELD_LABELS: dict[str, Any] = {
    "occurred_at": _("Date and time"),
    "identifier_value": _("Identifier"),
    "identifier_kind": _("Identifier kind"),
    "patron_key": _("Patron key"),
    "type": _("Type"),
    "channel": _("Channel"),
    "branch": _("Branch"),
    "space": _("Space"),
    "item_id": _("Item"),
    "subject": _("Subject (class number)"),
    "quantity": _("Quantity"),
    "duration_s": _("Duration in seconds"),
}
#: Fields that may be fixed for the whole file instead of read from a column.
FIXABLE = ("identifier_kind", "type", "channel", "branch")


def _time_zones() -> list[tuple[str, str]]:
    zones = sorted(zoneinfo.available_timezones())
    preferred = [settings.TIME_ZONE, "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "UTC"]
    first = list(dict.fromkeys(z for z in preferred if z in zones or z == "UTC"))
    return [(z, z) for z in first] + [(z, z) for z in zones if z not in first]


class MappingForm(forms.Form):
    """One select per event field: a column of the file, or (for some) a value for every row."""

    def __init__(
        self,
        *args: Any,
        headers: list[str],
        sheets: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.headers = headers
        columns = [(f"{COLUMN}{h}", h) for h in headers if h]
        in_file = (_("Columns of the file"), columns)
        fixed: dict[str, list[tuple[str, str]]] = {
            "identifier_kind": [(f"{FIXED}{k}", str(v)) for k, v in IDENTIFIER_KIND_LABELS.items()],
            "type": [],
            "channel": [(f"{FIXED}{c}", label) for c, label in channel_choices()],
            "branch": [(f"{FIXED}{b.code}", str(b)) for b in Branch.objects.filter(is_active=True)],
        }
        for family, choices in type_choices():
            fixed["type"].append((family, [(f"{FIXED}{c}", label) for c, label in choices]))
        for name, label in FIELD_LABELS.items():
            choices: list[Any] = list(NONE) if name != "occurred_at" else []
            if name in FIXABLE:
                if name == "type":
                    choices.append(in_file)
                    choices += [
                        (_("Every row: %(family)s") % {"family": family}, options)
                        for family, options in fixed["type"]
                    ]
                else:
                    choices += [in_file, (_("The same for every row"), fixed[name])]
            else:
                choices += columns
            self.fields[name] = forms.ChoiceField(
                label=label, choices=choices, required=name == "occurred_at"
            )
        self.fields["time_format"] = forms.CharField(
            label=_("Time format"),
            required=False,
            max_length=64,
            help_text=_(
                "Leave empty for ISO times (2025-03-01 14:05) and Excel dates; otherwise a "
                "pattern such as %d/%m/%Y %H:%M."
            ),
        )
        self.fields["time_zone"] = forms.ChoiceField(
            label=_("Time zone of the file's times"),
            choices=_time_zones(),
            initial=settings.TIME_ZONE,
            help_text=_("Times written with their own offset (+08:00, Z) keep it."),
        )
        if sheets and len(sheets) > 1:
            self.fields["sheet"] = forms.ChoiceField(
                label=_("Sheet"), choices=[(s, s) for s in sheets], required=False
            )

    @staticmethod
    def initial_from(suggested: dict[str, str], saved: dict[str, Any] | None) -> dict[str, Any]:
        """The form's starting values: what was chosen before, else the connector's guesses
        from the header names."""
        if saved:
            return dict(saved)
        initial: dict[str, Any] = {"time_zone": settings.TIME_ZONE}
        for header, target in suggested.items():
            if target in FIELD_LABELS:
                initial[target] = f"{COLUMN}{header}"
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        used: dict[str, str] = {}
        for name in FIELD_LABELS:
            value = data.get(name) or ""
            if value.startswith(COLUMN):
                header = value.removeprefix(COLUMN)
                if header in used:
                    self.add_error(
                        name,
                        _("The column %(column)s already feeds %(field)s.")
                        % {"column": header, "field": FIELD_LABELS[used[header]]},
                    )
                used.setdefault(header, name)
        if not data.get("patron_key") and not data.get("identifier_value"):
            self.add_error(
                "identifier_value",
                _("Choose the column that says whose interaction each row is."),
            )
        if data.get("identifier_value") and not data.get("identifier_kind"):
            self.add_error(
                "identifier_kind",
                _("Say which kind of identifier the column holds (library card, campus ID…)."),
            )
        for name in ("type", "channel"):
            if not data.get(name):
                self.add_error(name, _("Choose a column, or one value for every row."))
        if not self.errors:
            try:
                self.mapping().check()
            except ConnectorError as exc:
                self.add_error(None, str(exc))
        return data

    def choices(self) -> dict[str, Any]:
        """What to keep in the upload, to show this form again as it was."""
        return {
            name: self.cleaned_data.get(name) or ""
            for name in [*FIELD_LABELS, "time_format", "time_zone", "sheet"]
            if name in self.fields
        }

    def mapping(self) -> ColumnMapping:
        return mapping_from(self.cleaned_data)


def mapping_from(choices: dict[str, Any]) -> ColumnMapping:
    columns: dict[str, str] = {}
    constants: dict[str, str] = {}
    for name in FIELD_LABELS:
        value = choices.get(name) or ""
        if value.startswith(COLUMN):
            columns[value.removeprefix(COLUMN)] = name
        elif value.startswith(FIXED):
            constants[name] = value.removeprefix(FIXED)
    return ColumnMapping(
        columns=columns,
        constants=constants,
        time_format=choices.get("time_format") or None,
        sheet=choices.get("sheet") or None,
    )
