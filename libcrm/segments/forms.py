"""The form of a tag or segment: its names, its place under a parent and its rule as JSON."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from libcrm.segments.models import Segment


class SegmentForm(forms.Form):
    slug = forms.CharField(
        label=_("Identifier"),
        max_length=80,
        help_text=_("Lower-case letters, digits and hyphens, e.g. first-year-graduates."),
    )
    name_en = forms.CharField(label=_("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Segment.Kind.choices)
    parent = forms.ChoiceField(
        label=_("Parent segment"),
        required=False,
        help_text=_("Members of a child segment are the parent's members who also meet its rule."),
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    rule = forms.CharField(
        label=_("Rule (JSON)"),
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono", "spellcheck": "false"}),
        help_text=_('For example {"field": "loans_events_365d", "op": ">=", "value": 5}.'),
    )

    def __init__(self, *args: Any, parents: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = [("", "—"), *parents]

    def clean_rule(self) -> Any:
        text = self.cleaned_data["rule"]
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("This is not JSON (line %(line)s, column %(column)s)."),
                params={"line": exc.lineno, "column": exc.colno},
            ) from exc
