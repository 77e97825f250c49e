"""Console forms for patrons: widgets and basic types only.

The rules a patron must satisfy live in :mod:`libcrm.patrons.validation` and the services; a
form hands its values to a service and :func:`add_problems` puts the service's
:class:`~libcrm.patrons.errors.FieldProblem` messages on the matching fields, so no rule is
written twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from libcrm.patrons.errors import FieldProblem
from libcrm.patrons.identifiers import IdentifierKind
from libcrm.patrons.models import (
    IDENTIFIER_KIND_LABELS,
    Branch,
    Department,
    Discipline,
    Gender,
    HouseholdRole,
    PatronCategory,
    PatronStatus,
)
from libcrm.patrons.validation import PATRON_FIELDS, REQUIRED

BLANK = [("", "—")]
DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}


def add_problems(
    form: forms.Form, problems: Iterable[FieldProblem], aliases: Mapping[str, str] | None = None
) -> None:
    """Show a service's problems on ``form``: a path names a form field directly, through
    ``aliases`` (``"identifiers[0]"`` → ``"card_number"``), or else becomes a form-wide error."""
    aliases = aliases or {}
    for problem in problems:
        head = problem.path.split(".")[0]
        field = aliases.get(problem.path) or aliases.get(head) or problem.path
        form.add_error(field if field in form.fields else None, capfirst(problem.message))


class PatronForm(forms.Form):
    """The patron's own fields (create and edit)."""

    name = forms.CharField(
        label=pgettext_lazy("person", "Name"),
        required=False,
        help_text=_("As on the patron's ID: 汉字 or Latin letters."),
    )
    gender = forms.ChoiceField(
        label=_("Gender"), choices=Gender.choices, initial=Gender.UNDISCLOSED
    )
    birth_year = forms.IntegerField(
        label=_("Birth year"),
        required=False,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    category = forms.ChoiceField(
        label=_("Category"), choices=PatronCategory.choices, required=False
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.all(),
        to_field_name="code",
        required=False,
        empty_label="—",
    )
    discipline = forms.ChoiceField(
        label=_("Discipline"), choices=BLANK + Discipline.choices, required=False
    )
    research_specialty = forms.CharField(label=_("Research specialty"), required=False)
    home_branch = forms.ModelChoiceField(
        label=_("Home branch"),
        queryset=Branch.objects.all(),
        to_field_name="code",
        required=False,
        empty_label="—",
    )
    registered_on = forms.DateField(
        label=_("Registered on"), required=False, widget=forms.DateInput(**DATE_WIDGET)
    )
    expires_on = forms.DateField(
        label=_("Expires on"), required=False, widget=forms.DateInput(**DATE_WIDGET)
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=PatronStatus.choices, initial=PatronStatus.ACTIVE
    )
    address = forms.CharField(
        label=_("Address"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Visible to staff who can see personal data."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in REQUIRED:  # the browser's hint; the service has the final word
            self.fields[name].widget.attrs["required"] = True

    def patron_fields(self) -> dict[str, Any]:
        """The cleaned values under the names the patron services expect."""
        return {key: self.cleaned_data.get(key) for key in PATRON_FIELDS}


class PatronCreateForm(PatronForm):
    """A new patron, with the identifiers a front desk usually has at hand."""

    category = forms.ChoiceField(
        label=_("Category"), choices=BLANK + PatronCategory.choices, required=False
    )
    registered_on = forms.DateField(
        label=_("Registered on"),
        required=False,
        initial=timezone.localdate,
        widget=forms.DateInput(**DATE_WIDGET),
    )
    card_number = forms.CharField(label=_("Library card number"), required=False)
    phone = forms.CharField(
        label=_("Phone"), required=False, widget=forms.TextInput(attrs={"inputmode": "tel"})
    )
    email = forms.CharField(
        label=_("E-mail"), required=False, widget=forms.TextInput(attrs={"inputmode": "email"})
    )

    IDENTIFIER_FIELDS = {
        "card_number": IdentifierKind.LIBRARY_CARD,
        "phone": IdentifierKind.PHONE,
        "email": IdentifierKind.EMAIL,
    }

    def patron_fields(self) -> dict[str, Any]:
        # Left empty, a field takes the registry's default (registered today, not disclosed…).
        return {k: v for k, v in super().patron_fields().items() if v not in (None, "")}

    def identifiers(self) -> tuple[list[dict[str, str]], dict[str, str]]:
        """The identifiers typed in, and which form field each ``identifiers[i]`` came from."""
        items: list[dict[str, str]] = []
        aliases: dict[str, str] = {}
        for field, kind in self.IDENTIFIER_FIELDS.items():
            value = (self.cleaned_data.get(field) or "").strip()
            if value:
                aliases[f"identifiers[{len(items)}]"] = field
                items.append({"kind": kind, "value": value, "source": "console"})
        return items, aliases


class IdentifierForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=list(IDENTIFIER_KIND_LABELS.items()))
    value = forms.CharField(label=_("Value"), required=False)
    source = forms.CharField(
        label=_("Source"),
        required=False,
        help_text=_("Where it came from, e.g. front desk, WeChat."),
    )
    verified = forms.BooleanField(label=_("Verified by staff"), required=False)

    def item(self) -> dict[str, Any]:
        return {key: self.cleaned_data.get(key) for key in ("kind", "value", "source", "verified")}


class HouseholdCreateForm(forms.Form):
    label = forms.CharField(
        label=_("Household name"),
        required=False,
        help_text=_("For example, 王家 or The Smith family."),
    )
    address = forms.CharField(label=_("Household address"), required=False)
    role = forms.ChoiceField(
        label=_("This patron's role"), choices=HouseholdRole.choices, initial=HouseholdRole.HEAD
    )


class HouseholdJoinForm(forms.Form):
    card_number = forms.CharField(
        label=_("Card number of a household member"),
        required=False,
        help_text=_("Any member's library card number finds their household."),
    )
    role = forms.ChoiceField(
        label=_("This patron's role"), choices=HouseholdRole.choices, initial=HouseholdRole.OTHER
    )


class PatronSearchForm(forms.Form):
    """The list page's search box and filters (GET); an unknown filter value is ignored."""

    q = forms.CharField(label=_("Search"), required=False)
    category = forms.ChoiceField(
        label=_("Category"),
        required=False,
        choices=[("", _("All categories")), *PatronCategory.choices],
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All statuses")), *PatronStatus.choices]
    )
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("All departments"),
    )
    branch = forms.ModelChoiceField(
        label=_("Home branch"),
        queryset=Branch.objects.all(),
        to_field_name="code",
        required=False,
        empty_label=_("All branches"),
    )

    def filters(self) -> dict[str, str]:
        self.is_valid()  # a field whose value is not a valid choice is left out of cleaned_data
        data = self.cleaned_data
        department, branch = data.get("department"), data.get("branch")
        return {
            "query": (data.get("q") or "").strip(),
            "category": data.get("category") or "",
            "status": data.get("status") or "",
            "department": department.code if department else "",
            "home_branch": branch.code if branch else "",
        }
