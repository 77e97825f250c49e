"""Forms of the review queue: a verdict on a pair, a reason to undo a merge."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from libcrm.linkage.models import CandidateSource

VERDICTS = [("same", _("Same person — merge")), ("different", _("Different people"))]


class DecisionForm(forms.Form):
    verdict = forms.ChoiceField(label=_("Verdict"), choices=VERDICTS, widget=forms.RadioSelect)
    survivor = forms.TypedChoiceField(
        label=_("Record to keep"),
        coerce=int,
        required=False,
        widget=forms.RadioSelect,
        help_text=_(
            "The other record is folded into it: identifiers, household, consents and "
            "interaction history move over. The merge can be undone."
        ),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What you checked (e.g. 'same phone on the paper form'). No ID numbers."),
    )  # fmt: skip

    def __init__(
        self, *args: object, left: int, right: int, labels: tuple[str, str], **kw: object
    ) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.fields["survivor"].choices = [(left, labels[0]), (right, labels[1])]

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("verdict") == "same" and not data.get("survivor"):
            self.add_error("survivor", _("Choose which record to keep."))
        return data


class UnmergeForm(forms.Form):
    reason = forms.CharField(
        label=_("Why undo this merge?"), max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip


class QueueFilterForm(forms.Form):
    source = forms.ChoiceField(
        label=_("Proposed by"), required=False,
        choices=[("", _("Any")), *CandidateSource.choices],
    )  # fmt: skip
