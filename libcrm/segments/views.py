"""Console pages of tags and segments: the list with their latest sizes, one segment with its
rule, versions and snapshots, the form that defines one (its rule as JSON, with problems shown
at their paths) and the live count of a rule being written.

Sizes are aggregates: a size from 1 to k−1 is shown as "fewer than k". No page shows who the
members are.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from libcrm.console.access import permission_required
from libcrm.insight.aggregates import suppress_count
from libcrm.privacy.actors import Actor
from libcrm.segments import selectors, services
from libcrm.segments.compiler import compile_rule
from libcrm.segments.errors import SegmentError
from libcrm.segments.evaluate import run
from libcrm.segments.forms import SegmentForm
from libcrm.segments.models import Segment, SegmentSnapshot
from libcrm.segments.personas import group_persona
from libcrm.segments.rules import _OPS_FOR as OPS_FOR  # the operators each type allows
from libcrm.segments.rules import InvalidRule, RuleError
from libcrm.staff.roles import AGGREGATES, DEFINE_SEGMENTS


def _lang() -> str:
    return "zh" if (get_language() or "").lower().startswith("zh") else "en"


def _size(count: int | None) -> str:
    k = settings.LIBCRM_MIN_GROUP_SIZE
    if count is None:
        return "—"
    if 0 < count < k:
        return _("fewer than %(k)s") % {"k": k}
    return f"{count:,}"


@permission_required(AGGREGATES)
def segment_list(request: HttpRequest) -> HttpResponse:
    latest: dict[int, SegmentSnapshot] = {}
    for snap in SegmentSnapshot.objects.order_by("segment_id", "-taken_at"):
        latest.setdefault(snap.segment_id, snap)
    rows = []
    for s in Segment.objects.select_related("parent", "current_version"):
        snap = latest.get(s.pk)
        rows.append({"segment": s, "snapshot": snap, "size": _size(snap.size if snap else None)})
    return render(request, "segments/list.html", {"rows": rows})


@permission_required(AGGREGATES)
def segment_detail(request: HttpRequest, slug: str) -> HttpResponse:
    segment = get_object_or_404(
        Segment.objects.select_related("parent", "current_version"), slug=slug
    )
    snapshots = [
        {"snapshot": s, "size": _size(s.size)}
        for s in segment.snapshots.select_related("version").order_by("-taken_at")[:100]
    ]
    rule = segment.current_version.rule if segment.current_version else None
    k = settings.LIBCRM_MIN_GROUP_SIZE
    history = selectors.size_history().get(segment.pk, [])
    sizes = [{"as_of": day, "cell": suppress_count(str(day), "", n, k)} for day, n in history]
    return render(
        request,
        "segments/detail.html",
        {
            "segment": segment,
            "rule": json.dumps(rule, ensure_ascii=False, indent=2) if rule is not None else "",
            "versions": segment.versions.all()[:50],
            "snapshots": snapshots,
            "children": segment.children.all(),
            "group": group_persona(segment, k),
            "sizes": sizes,
            "largest": max((p["cell"].count or 0 for p in sizes), default=0),
            "k": k,
        },
    )


def _parents(exclude: str | None = None) -> list[tuple[str, str]]:
    return [
        (slug, slug)
        for slug in Segment.objects.exclude(slug=exclude or "").values_list("slug", flat=True)
    ]


@permission_required(DEFINE_SEGMENTS)
def segment_edit(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    segment = get_object_or_404(Segment, slug=slug) if slug else None
    errors: list[dict[str, Any]] = []
    if request.method == "POST":
        form = SegmentForm(request.POST, parents=_parents(slug))
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = services.save_segment(
                    Actor.from_request(request),
                    slug=segment.slug if segment else data["slug"],
                    name_en=data["name_en"],
                    name_zh=data["name_zh"],
                    rule=data["rule"],
                    kind=data["kind"],
                    description=data["description"],
                    parent=data["parent"] or None,
                )
            except SegmentError as exc:
                errors = exc.messages(_lang())
            else:
                messages.success(request, _("Saved."))
                return redirect("segments:detail", slug=saved.slug)
    else:
        initial = {"kind": Segment.Kind.SEGMENT, "rule": '{"all": [\n  \n]}'}
        if segment is not None:
            initial = {
                "slug": segment.slug,
                "name_en": segment.name_en,
                "name_zh": segment.name_zh,
                "kind": segment.kind,
                "description": segment.description,
                "parent": segment.parent.slug if segment.parent else "",
                "rule": json.dumps(segment.current_version.rule, ensure_ascii=False, indent=2)
                if segment.current_version
                else "",
            }
        form = SegmentForm(initial=initial, parents=_parents(slug))
    if segment is not None:
        form.fields["slug"].disabled = True
    catalogue = sorted(selectors.segment_catalogue().values(), key=lambda f: f.name)
    return render(
        request,
        "segments/edit.html",
        {
            "form": form,
            "segment": segment,
            "errors": errors,
            "catalogue": catalogue,
            "builder": _builder_payload(catalogue, exclude=slug),
            "zh": _lang() == "zh",
        },
    )


def _builder_payload(catalogue: list[Any], exclude: str | None) -> dict[str, Any]:
    """What the visual rule builder (static/segments/builder.js) needs, in the page's
    language: the fields with their types, the operators each type allows, the other
    segments a rule may refer to and every label it shows."""
    zh = _lang() == "zh"
    return {
        "fields": [
            {"name": f.name, "type": f.type, "label": (f.label_zh if zh else f.label) or f.name}
            for f in catalogue
        ],
        "ops": {kind: list(ops) for kind, ops in OPS_FOR.items()},
        "segments": list(
            Segment.objects.exclude(slug=exclude or "").values_list("slug", flat=True)
        ),
        "types": {
            "int": _("whole number"), "float": _("number"), "date": _("date"),
            "text": _("text"), "list": _("list"), "bool": _("true/false"),
        },
        "opLabels": {
            "=": _("is"), "!=": _("is not"), "<": _("less than"), "<=": _("at most"),
            ">": _("more than"), ">=": _("at least"), "between": _("between"),
            "in": _("is one of"), "not_in": _("is none of"), "contains": _("contains"),
            "is_set": _("has a value"), "is_not_set": _("has no value"),
            "within": _("within the last"), "in_window": _("in the window"),
        },
        "labels": {
            "all": _("All of these hold (AND)"),
            "any": _("Any of these holds (OR)"),
            "not": _("Not"),
            "group": _("Group"),
            "field": _("Field"),
            "op": _("Operator"),
            "value": _("Value"),
            "low": _("From"),
            "high": _("To"),
            "days": _("days"),
            "from": _("From (e.g. -90d)"),
            "to": _("To (e.g. -30d)"),
            "list": _("Values, separated by commas"),
            "date": _("YYYY-MM-DD or -30d"),
            "yes": _("yes"),
            "no": _("no"),
            "segment": _("Member of segment"),
            "addCondition": _("Add condition"),
            "addGroup": _("Add group"),
            "addSegment": _("Add segment"),
            "remove": _("Remove"),
            "empty": _("No conditions yet: add one."),
            "builder": _("Rule builder"),
            "unsupported": _(
                "The builder cannot show this JSON; edit it below. The builder comes back as "
                "soon as the JSON is a rule it can show."
            ),
        },
    }  # fmt: skip


@require_POST
@permission_required(DEFINE_SEGMENTS)
def rule_count(request: HttpRequest) -> HttpResponse:
    """The live count of the rule in the form: its problems, or how many patrons match now."""
    errors: list[dict[str, Any]] = []
    count = None
    try:
        rule = json.loads(request.POST.get("rule", ""))
    except json.JSONDecodeError as exc:
        errors = [
            {
                "path": "",
                "message": _("This is not JSON (line %(line)s, column %(column)s).")
                % {"line": exc.lineno, "column": exc.colno},
            }
        ]
    else:
        slug = request.POST.get("slug") or None
        parent = request.POST.get("parent") or None
        try:
            resolve = selectors.rule_resolver()
            problems = []
            if parent is not None and resolve(parent) is None:
                problems.append(RuleError("parent", "unknown_segment", {"slug": parent}))
            if problems:
                raise InvalidRule(problems)
            full = rule if parent is None else {"all": [{"segment": parent}, rule]}
            compiled = compile_rule(
                full, selectors.segment_catalogue(), selectors.profile_as_of(), resolve, slug=slug
            )
            count = run(compiled, selectors.profile_table(), reasons=False).num_rows
        except InvalidRule as exc:
            errors = [e.as_dict(_lang()) for e in exc.errors]
    return render(
        request,
        "segments/_count.html",
        {"errors": errors, "size": _size(count) if count is not None else None},
    )


@require_POST
@permission_required(DEFINE_SEGMENTS)
def segment_snapshot(request: HttpRequest, slug: str) -> HttpResponse:
    segment = get_object_or_404(
        Segment.objects.select_related("parent", "current_version"), slug=slug
    )
    try:
        services.take_snapshot(Actor.from_request(request), segment)
    except SegmentError as exc:
        for error in exc.errors:
            messages.error(request, error.message(_lang()))
    else:
        messages.success(request, _("Snapshot taken."))
    return redirect("segments:detail", slug=slug)
