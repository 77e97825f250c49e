"""Forms of data-subject requests and retention policies (console and portal)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from libcrm.events.schema import EventType
from libcrm.subjects.models import ErasureReason, RetentionAction, RetentionBasis

CONFIRM_WORD = "ERASE"


class ErasureForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=ErasureReason.choices)
    confirm = forms.CharField(
        label=_("Type ERASE to confirm"),
        max_length=20,
        help_text=_("Erasure cannot be undone. Only backups taken before it still hold the data."),
    )

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value.upper() != CONFIRM_WORD:
            raise forms.ValidationError(_("Type ERASE, in capital letters, to confirm."))
        return value


class PortalErasureForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"), widget=forms.PasswordInput(attrs={"autocomplete": "off"})
    )
    understood = forms.BooleanField(
        label=_(
            "I understand that my record, my loan and visit history and my portal account "
            "will be deleted and cannot be restored."
        )
    )


def _consent_choices() -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = [("", _("Nobody"))]
    try:
        from libcrm.consent.models import Purpose
    except ImportError:
        return choices
    return choices + list(Purpose.choices)


class RetentionPolicyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    event_types = forms.MultipleChoiceField(
        label=_("Event types"),
        choices=[(t.value, t.value) for t in EventType],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every type."),
    )
    action = forms.ChoiceField(label=_("Action"), choices=RetentionAction.choices)
    age_days = forms.IntegerField(label=_("After (days)"), min_value=1, max_value=36_500)
    measured_from = forms.ChoiceField(label=_("Counted from"), choices=RetentionBasis.choices)
    exempt_consent = forms.ChoiceField(
        label=_("Spared: patrons who consented to"), choices=(), required=False
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False)
    notes = forms.CharField(label=_("Notes"), max_length=300, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["exempt_consent"].choices = _consent_choices()
