"""The review queue of possible duplicates (重复读者), one pair side by side with the evidence,
merges and their undoing, and the linker's runs with the weights it learnt.

Reviewing shows two patrons' personal data, so every page needs both the review permission
and the personal-data permission, and each pair opened is audited for both patrons. Merging and
unmerging ask for a fresh proof of identity (:func:`~libcrm.staff.reauth.reauth_required`).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from libcrm.console.access import permission_required
from libcrm.linkage import selectors
from libcrm.linkage.engine import LinkSettings, TooManyPairs
from libcrm.linkage.errors import LinkageError
from libcrm.linkage.forms import DecisionForm, QueueFilterForm, UnmergeForm
from libcrm.linkage.models import CandidateStatus, LinkRun, MatchCandidate, Merge
from libcrm.linkage.services import decide_candidate, run_linkage, unmerge_patrons
from libcrm.patrons.models import Patron
from libcrm.patrons.services import record_patron_viewed
from libcrm.privacy.actors import Actor
from libcrm.staff.reauth import reauth_required
from libcrm.staff.roles import REVIEW_MATCHES, VIEW_PERSONAL

PAGE_SIZE = 30


@never_cache
@permission_required(REVIEW_MATCHES, VIEW_PERSONAL)
def queue(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET)
    source = form.cleaned_data.get("source", "") if form.is_valid() else ""
    status = request.GET.get("status") or CandidateStatus.PENDING
    if status not in CandidateStatus.values:
        status = CandidateStatus.PENDING
    page = Paginator(selectors.review_queue(status, source), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "linkage/queue.html",
        {
            "form": form,
            "page": page,
            "status": status,
            "statuses": CandidateStatus.choices,
            "counts": selectors.queue_counts(),
            "latest_run": selectors.latest_run(),
        },
    )


@never_cache
@permission_required(REVIEW_MATCHES, VIEW_PERSONAL)
def candidate(request: HttpRequest, pk: int) -> HttpResponse:
    pair = get_object_or_404(MatchCandidate.objects.select_related("left", "right"), pk=pk)
    return _render_candidate(request, pair, _decision_form(pair))


def _decision_form(pair: MatchCandidate, data: object = None) -> DecisionForm:
    return DecisionForm(
        data,  # type: ignore[arg-type]
        left=pair.left_id,
        right=pair.right_id,
        labels=(_("Left record (%(key)s)") % {"key": pair.left.patron_key},
                _("Right record (%(key)s)") % {"key": pair.right.patron_key}),
    )  # fmt: skip


def _render_candidate(
    request: HttpRequest, pair: MatchCandidate, form: DecisionForm
) -> HttpResponse:
    actor = Actor.from_request(request)
    record_patron_viewed(actor, pair.left)
    record_patron_viewed(actor, pair.right)
    return render(
        request,
        "linkage/candidate.html",
        {
            "pair": pair,
            "form": form,
            "fields": selectors.compared_fields(pair.left, pair.right),
            "left_identifiers": selectors.identifiers_of(pair.left),
            "right_identifiers": selectors.identifiers_of(pair.right),
            "evidence": selectors.evidence_of(pair),
            "merges": pair.merges.all(),
            "decidable": pair.status == CandidateStatus.PENDING,
        },
    )


@never_cache
@permission_required(REVIEW_MATCHES, VIEW_PERSONAL)
@reauth_required
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    pair = get_object_or_404(MatchCandidate.objects.select_related("left", "right"), pk=pk)
    if request.method != "POST":  # back from re-authentication: show the pair again
        return redirect("linkage:candidate", pk=pair.pk)
    form = _decision_form(pair, request.POST)
    if form.is_valid():
        same = form.cleaned_data["verdict"] == "same"
        survivor = None
        if same:
            survivor = Patron.objects.get(pk=form.cleaned_data["survivor"])
        try:
            decide_candidate(
                Actor.from_request(request),
                pair,
                same_person=same,
                survivor=survivor,
                note=form.cleaned_data["note"],
            )
        except LinkageError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("The two records were merged.") if same
                else _("Noted: different people. This pair will not be proposed again."),
            )  # fmt: skip
            return _next_in_queue(pair)
    return _render_candidate(request, pair, form)


def _next_in_queue(after: MatchCandidate) -> HttpResponse:
    following = selectors.review_queue().exclude(pk=after.pk).first()
    if following is None:
        return redirect("linkage:queue")
    return redirect("linkage:candidate", pk=following.pk)


@never_cache
@permission_required(REVIEW_MATCHES, VIEW_PERSONAL)
def merge_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.merges(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "linkage/merge_list.html", {"page": page})


@never_cache
@permission_required(REVIEW_MATCHES, VIEW_PERSONAL)
def merge_detail(request: HttpRequest, pk: int) -> HttpResponse:
    merge = get_object_or_404(Merge.objects.select_related("survivor", "merged"), pk=pk)
    return _render_merge(request, merge, UnmergeForm())


def _render_merge(request: HttpRequest, merge: Merge, form: UnmergeForm) -> HttpResponse:
    moved = [
        (row["model"], row["field"], len(row["pks"]))
        for row in merge.moves.get("rows", [])
        if row["pks"]
    ]
    return render(
        request, "linkage/merge_detail.html", {"merge": merge, "moved": moved, "form": form}
    )


@never_cache
@permission_required(REVIEW_MATCHES, VIEW_PERSONAL)
@reauth_required
def unmerge(request: HttpRequest, pk: int) -> HttpResponse:
    merge = get_object_or_404(Merge.objects.select_related("survivor", "merged"), pk=pk)
    if request.method != "POST":
        return redirect("linkage:merge", pk=merge.pk)
    form = UnmergeForm(request.POST)
    if form.is_valid():
        try:
            unmerge_patrons(Actor.from_request(request), merge, reason=form.cleaned_data["reason"])
        except LinkageError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The merge was undone: both records are back."))
            return redirect("linkage:merge", pk=merge.pk)
    return _render_merge(request, merge, form)


@never_cache
@permission_required(REVIEW_MATCHES, VIEW_PERSONAL)
def run_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(LinkRun.objects.all(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "linkage/run_list.html", {"page": page})


@never_cache
@permission_required(REVIEW_MATCHES, VIEW_PERSONAL)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(LinkRun, pk=pk)
    return render(
        request,
        "linkage/run_detail.html",
        {"run": run, "comparisons": selectors.comparison_labels(run.model)},
    )


@never_cache
@require_POST
@permission_required(REVIEW_MATCHES, VIEW_PERSONAL)
def run_start(request: HttpRequest) -> HttpResponse:
    try:
        outcome = run_linkage(Actor.from_request(request), LinkSettings())
    except TooManyPairs as exc:
        messages.error(request, str(exc))
        return redirect("linkage:queue")
    messages.success(
        request,
        _("Linked %(records)d records: %(proposed)d new pairs to review.")
        % {"records": outcome.run.records, "proposed": outcome.run.proposed},
    )
    return HttpResponseRedirect(reverse("linkage:run", kwargs={"pk": outcome.run.pk}))
