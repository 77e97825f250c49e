"""The audit trail browser for administrators: who did what, to which record, when, and from
which address."""

from __future__ import annotations

import csv
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from libcrm.console.access import permission_required
from libcrm.privacy.actors import Actor
from libcrm.privacy.chain import ChainReport, Problem
from libcrm.privacy.checkpoint import CheckpointError
from libcrm.privacy.models import AuditAction
from libcrm.privacy.selectors import audit_events
from libcrm.privacy.services import record_audit_event, verify_audit_chain
from libcrm.staff.roles import BROWSE_AUDIT, VIEW_PERSONAL

PAGE_SIZE = 50
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AuditFilterForm(forms.Form):
    actor = forms.CharField(
        label=_("Who"), required=False, help_text=_("Part of a username or token name.")
    )
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("All actions")), *AuditAction.choices]
    )
    patron_key = forms.CharField(label=_("Patron key"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=DATE_WIDGET)
    until = forms.DateField(label=_("Until"), required=False, widget=DATE_WIDGET)
    upto = forms.IntegerField(
        label=_("Up to record #"),
        required=False,
        min_value=1,
        help_text=_("This record and the ones before it, to look at a break the check found."),
    )

    def clean(self) -> dict:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date is before the start date."))
        return data


@never_cache
@permission_required(BROWSE_AUDIT)
def audit_list(request: HttpRequest) -> HttpResponse:
    form, filters = _filters(request)
    page = Paginator(audit_events(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "privacy/audit_list.html",
        {
            "form": form,
            "page": page,
            "filtered": any(filters.values()),
            "query": request.GET.urlencode(),
            "can_open_patrons": request.user.has_perm(VIEW_PERSONAL),
        },
    )


def _filters(request: HttpRequest) -> tuple[AuditFilterForm, dict[str, Any]]:
    form = AuditFilterForm(request.GET)
    form.is_valid()  # a malformed filter is shown with its error and otherwise ignored
    return form, {
        "actor": (form.cleaned_data.get("actor") or "").strip(),
        "action": form.cleaned_data.get("action") or "",
        "patron_key": (form.cleaned_data.get("patron_key") or "").strip(),
        "since": form.cleaned_data.get("since"),
        "until": form.cleaned_data.get("until"),
        "upto": form.cleaned_data.get("upto"),
    }


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_COLUMNS = ["seq", "at", "actor", "via", "action", "patron_key", "target", "ip", "detail"]


@never_cache
@permission_required(BROWSE_AUDIT)
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered trail as CSV (records hold no personal data); the export is audited."""
    _, filters = _filters(request)
    events = audit_events(**filters).order_by("seq")
    record_audit_event(
        Actor.from_request(request),
        AuditAction.EXPORT,
        target="audit.csv",
        detail={"filters": sorted(k for k, v in filters.items() if v), "rows": events.count()},
    )
    writer = csv.writer(_Echo())

    def rows() -> Any:
        yield writer.writerow(CSV_COLUMNS)
        for e in events.values_list(
            "seq", "at", "actor_label", "via", "action", "patron_key", "target", "ip", "detail"
        ).iterator(chunk_size=2000):
            seq, at, *middle, detail = e
            yield writer.writerow(
                [seq, at.isoformat(), *("" if v is None else v for v in middle), _json(detail)]
            )

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@never_cache
@require_POST
@permission_required(BROWSE_AUDIT)
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Walk the audit chain now and say whether it is intact, naming the first break."""
    try:
        report = verify_audit_chain(Actor.from_request(request))
    except CheckpointError as exc:
        messages.error(request, str(exc))
        return redirect("console:audit")
    if report.ok:
        messages.success(
            request,
            ngettext(
                "The audit chain is intact: %(count)s record checked.",
                "The audit chain is intact: %(count)s records checked.",
                report.records,
            )
            % {"count": f"{report.records:,}"},
        )
        if report.checkpoint is None:
            messages.warning(
                request,
                gettext_now(
                    "No checkpoint was found, so records removed from the end of the chain "
                    "cannot be detected."
                ),
            )
    else:
        messages.error(request, _describe(report))
    return redirect("console:audit")


def _describe(report: ChainReport) -> str:
    total = len(report.problems) + report.more_problems
    first = report.problems[0]
    return ngettext(
        "The audit chain is broken (%(count)s problem). First: %(problem)s",
        "The audit chain is broken (%(count)s problems). First: %(problem)s",
        total,
    ) % {"count": total, "problem": _problem_text(first)}


def _problem_text(problem: Problem) -> str:
    values = {"seq": problem.seq, "until": problem.until}
    if problem.kind == "deleted" and problem.until == problem.seq:
        return gettext_now("record %(seq)s was deleted.") % values
    if problem.kind == "deleted":
        return gettext_now("records %(seq)s to %(until)s were deleted.") % values
    if problem.kind == "truncated":
        return (
            gettext_now("records %(seq)s to %(until)s were cut off the end of the chain.") % values
        )
    if problem.kind == "relinked":
        return gettext_now("the records before record %(seq)s were replaced.") % values
    return gettext_now("record %(seq)s was altered.") % values
