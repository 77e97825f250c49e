"""The console's consent form: a choice entered by staff for a patron (at the desk, from a
signed paper form), with the guardian for a child chosen among the child's own household."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from libcrm.consent.models import Purpose
from libcrm.consent.selectors import guardians_of
from libcrm.patrons.models import Patron


class StaffConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    granted = forms.TypedChoiceField(
        label=_("Choice"),
        choices=[("yes", _("Yes")), ("no", _("No"))],
        coerce=lambda v: v == "yes",
    )
    guardian = forms.ChoiceField(label=_("Decided by (guardian)"), required=False)

    def __init__(self, patron: Patron, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guardians = {str(g.uuid): g for g in guardians_of(patron)}
        if self.guardians:
            self.fields["guardian"].choices = [("", "—")] + [
                (key, f"{g.name} ({g.get_household_role_display()})")
                for key, g in self.guardians.items()
            ]
        else:
            del self.fields["guardian"]

    def chosen_guardian(self) -> Patron | None:
        return self.guardians.get(self.cleaned_data.get("guardian") or "")
