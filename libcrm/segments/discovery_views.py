"""Console pages of discovered groups: run clustering on the current feature table, read what
sets each group apart with its typical values and a generated rule, and save a group as a
segment (its rule then edited like any other).

The run reads the pseudonymous feature table only and shows aggregates: groups smaller than
k (``LIBCRM_MIN_GROUP_SIZE``) are not described and no page lists members. Saving goes
through :func:`libcrm.segments.services.save_segment`, which checks and audits it.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from libcrm.console.access import permission_required
from libcrm.features.definitions import FEATURES
from libcrm.features.selectors import feature_table
from libcrm.privacy.actors import Actor
from libcrm.segments import selectors, services
from libcrm.segments.discovery import Discovery, DiscoveryError, discover
from libcrm.segments.errors import SegmentError
from libcrm.segments.rules import validate
from libcrm.segments.views import _lang
from libcrm.staff.roles import DEFINE_SEGMENTS


class RunForm(forms.Form):
    k = forms.IntegerField(
        label=gettext_lazy("Number of groups"),
        required=False,
        min_value=2,
        max_value=20,
        help_text=gettext_lazy("Leave empty to let libcrm choose between 3 and 10."),
    )


class SaveDiscoveredForm(forms.Form):
    slug = forms.SlugField(label=gettext_lazy("Identifier"), max_length=80)
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=gettext_lazy("Name (Chinese)"), max_length=200)
    rule = forms.CharField(widget=forms.HiddenInput)
    description = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_rule(self) -> Any:
        try:
            return json.loads(self.cleaned_data["rule"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(_("The rule is not JSON.")) from exc


def _group_rows(found: Discovery, lang: str) -> list[dict[str, Any]]:
    rows = []
    for group in found.groups:
        rule = group.rule
        description = f"{group.description('en')}\n{group.description('zh')}"
        form = None
        if rule is not None and not rule.errors:
            form = SaveDiscoveredForm(
                initial={
                    "slug": f"discovered-{group.number}",
                    "name_en": f"Discovered group {group.number}",
                    "name_zh": f"发现的群体 {group.number}",
                    "rule": json.dumps(rule.rule, ensure_ascii=False),
                    "description": description,
                },
                auto_id=f"id_g{group.number}_%s",
            )
        rows.append(
            {
                "group": group,
                "phrases": [d.phrase(lang) for d in group.distinctions],
                "typical": [
                    {
                        "label": d.label_zh if lang == "zh" else d.label,
                        "feature": d.feature,
                        "group": d.group_median,
                        "everyone": d.everyone_median,
                    }
                    for d in group.distinctions
                ],
                "rule": json.dumps(rule.rule, ensure_ascii=False, indent=2) if rule else "",
                "precision": rule.precision if rule else None,
                "recall": rule.recall if rule else None,
                "form": form,
            }
        )
    return rows


@permission_required(DEFINE_SEGMENTS)
def discover_groups(request: HttpRequest) -> HttpResponse:
    """GET: what discovery does and the button; POST: run it and show the groups."""
    context: dict[str, Any] = {"k": settings.LIBCRM_MIN_GROUP_SIZE}
    if request.method == "POST":
        form = RunForm(request.POST)
        if form.is_valid():
            table = feature_table()
            try:
                found = discover(
                    table,
                    FEATURES,
                    k=form.cleaned_data["k"],
                    min_group_size=settings.LIBCRM_MIN_GROUP_SIZE,
                )
            except DiscoveryError as exc:
                context["problem"] = _(
                    "Discovery needs more patrons with features (%(count)s now): %(reason)s"
                ) % {"count": table.num_rows, "reason": str(exc)}
            else:
                context.update(
                    found=found,
                    rows=_group_rows(found, _lang()),
                    as_of=selectors.profile_as_of(),
                    suppressed_shown=found.suppressed >= settings.LIBCRM_MIN_GROUP_SIZE,
                )
    else:
        form = RunForm()
    context["form"] = form
    return render(request, "segments/discovery.html", context)


@require_POST
@permission_required(DEFINE_SEGMENTS)
def save_discovered(request: HttpRequest) -> HttpResponse:
    """Saves a discovered group's rule as a segment; problems are shown with the form."""
    form = SaveDiscoveredForm(request.POST)
    errors: list[dict[str, Any]] = []
    if form.is_valid():
        data = form.cleaned_data
        problems = validate(data["rule"], selectors.segment_catalogue(), slug=data["slug"])
        try:
            if problems:
                raise SegmentError(problems)
            segment = services.save_segment(
                Actor.from_request(request),
                slug=data["slug"],
                name_en=data["name_en"],
                name_zh=data["name_zh"],
                rule=data["rule"],
                description=data["description"],
            )
        except SegmentError as exc:
            errors = exc.messages(_lang())
        else:
            messages.success(request, _("Saved as a segment; you can edit its rule now."))
            return redirect("segments:detail", slug=segment.slug)
    rule = request.POST.get("rule", "")
    with contextlib.suppress(json.JSONDecodeError):
        rule = json.dumps(json.loads(rule), ensure_ascii=False, indent=2)
    return render(
        request,
        "segments/discovery_save.html",
        {"form": form, "errors": errors, "rule": rule},
        status=400,
    )
