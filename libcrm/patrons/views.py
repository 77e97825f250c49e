"""Console pages for patrons: search, the patron page, registration and edits, identifiers and
households. Thin: every read goes through selectors, every write through a service, and every
page that shows a patron's personal data is recorded in the audit trail."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from libcrm.console.access import permission_required
from libcrm.console.events_views.timeline import patron_events_context
from libcrm.linkage.selectors import identity_context
from libcrm.patrons import services
from libcrm.patrons.errors import PatronError
from libcrm.patrons.forms import (
    HouseholdCreateForm,
    HouseholdJoinForm,
    IdentifierForm,
    PatronCreateForm,
    PatronForm,
    PatronSearchForm,
    add_problems,
)
from libcrm.patrons.identifiers import IdentifierKind, InvalidIdentifier
from libcrm.patrons.models import Identifier, Patron
from libcrm.patrons.selectors import (
    PatronFilters,
    find_patron_by_identifier,
    get_patron,
    household_members,
    patron_identifiers,
    search_patrons,
)
from libcrm.patrons.validation import PATRON_FIELDS
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction
from libcrm.privacy.services import record_audit_event
from libcrm.segments.personas import show_persona
from libcrm.segments.selectors import segments_of
from libcrm.staff.roles import ADD_PATRON, CHANGE_PATRON, REVEAL, VIEW_PERSONAL

PAGE_SIZE = 25


def _patron_or_404(uuid: UUID) -> Patron:
    patron = get_patron(uuid)
    if patron is None:
        raise Http404
    return patron


def _identifier_or_404(patron: Patron, pk: int) -> Identifier:
    for identifier in patron_identifiers(patron):
        if identifier.pk == pk:
            return identifier
    raise Http404


def _to_patron(patron: Patron) -> HttpResponse:
    return redirect("console:patron-detail", uuid=patron.uuid)


SEARCHES_KEPT = 20


def _remember_search(request: HttpRequest, query: str) -> str:
    """Keep what was typed in the session and return a random token naming it.

    The search box takes names, phones and e-mails: sent as a GET parameter they would land in
    the address bar, browser history, proxy and server access logs. The form is POSTed instead
    and the results page is addressed by the token (post/redirect/get, so paging still works).
    """
    searches: dict[str, str] = request.session.get("patron_searches", {})
    token = secrets.token_urlsafe(9)
    searches[token] = query
    request.session["patron_searches"] = dict(list(searches.items())[-SEARCHES_KEPT:])
    return token


@never_cache
@permission_required(VIEW_PERSONAL)
def patron_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        params = {
            name: request.POST[name]
            for name in PatronSearchForm.base_fields
            if name != "q" and request.POST.get(name)
        }
        query = request.POST.get("q", "").strip()
        if query:
            params["s"] = _remember_search(request, query)
        target = reverse("console:patron-list")
        return redirect(f"{target}?{urlencode(params)}" if params else target)
    data = request.GET.copy()
    token = data.pop("s", [None])[-1]
    if token:
        query = request.session.get("patron_searches", {}).get(token)
        if query is None:  # another session's link, or forgotten: never widen to everyone
            messages.info(request, _("That search is no longer available; please search again."))
            return redirect("console:patron-list")
        data["q"] = query
    form = PatronSearchForm(data)
    filters = form.filters()
    cards = Identifier.objects.filter(kind=IdentifierKind.LIBRARY_CARD)
    patrons = search_patrons(PatronFilters(**filters)).prefetch_related(
        Prefetch("identifiers", queryset=cards, to_attr="library_cards")
    )
    page = Paginator(patrons, PAGE_SIZE).get_page(request.GET.get("page"))
    # The names on a result page are personal data: record which filters were used and how many
    # patrons matched, never what was typed (it may be a phone number).
    record_audit_event(
        Actor.from_request(request),
        AuditAction.SEARCH_PATRONS,
        target="patrons",
        detail={
            "filters": sorted(k for k, v in filters.items() if v),
            "results": page.paginator.count,
            "page": page.number,
        },
    )
    return render(
        request,
        "patrons/patron_list.html",
        {
            "form": form,
            "page": page,
            "searched": any(filters.values()),
            "can_register": request.user.has_perm(ADD_PATRON),
        },
    )


def _render_detail(
    request: HttpRequest,
    patron: Patron,
    *,
    revealed: dict[int, str] | None = None,
    **forms: Any,
) -> HttpResponse:
    services.record_patron_viewed(Actor.from_request(request), patron)
    revealed = revealed or {}
    memberships = segments_of(patron.patron_key)
    context = {
        "patron": patron,
        "identifiers": [(i, revealed.get(i.pk)) for i in patron_identifiers(patron)],
        "members": household_members(patron.household) if patron.household else [],
        "can_edit": request.user.has_perm(CHANGE_PATRON),
        "can_reveal": request.user.has_perm(REVEAL),
        "identifier_form": IdentifierForm(),
        "household_create_form": HouseholdCreateForm(),
        "household_join_form": HouseholdJoinForm(),
        **patron_events_context(request, patron),
        **identity_context(patron, request.user),
        "memberships": memberships,
        "persona": show_persona(Actor.from_request(request), patron, memberships),
        **forms,
    }
    return render(request, "patrons/patron_detail.html", context)


@never_cache
@permission_required(VIEW_PERSONAL)
def patron_detail(request: HttpRequest, uuid: UUID) -> HttpResponse:
    return _render_detail(request, _patron_or_404(uuid))


@never_cache
@permission_required(VIEW_PERSONAL, ADD_PATRON)
def patron_create(request: HttpRequest) -> HttpResponse:
    form = PatronCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        identifiers, aliases = form.identifiers()
        try:
            patron = services.register_patron(
                Actor.from_request(request), form.patron_fields(), identifiers
            )
        except PatronError as exc:
            add_problems(form, exc.problems, aliases)
        else:
            messages.success(request, _("The patron has been registered."))
            return _to_patron(patron)
    return render(request, "patrons/patron_form.html", {"form": form, "patron": None})


@never_cache
@permission_required(VIEW_PERSONAL, CHANGE_PATRON)
def patron_edit(request: HttpRequest, uuid: UUID) -> HttpResponse:
    patron = _patron_or_404(uuid)
    actor = Actor.from_request(request)
    if request.method == "POST":
        form = PatronForm(request.POST)
        if form.is_valid():
            try:
                services.update_patron(actor, patron, form.patron_fields())
            except PatronError as exc:
                add_problems(form, exc.problems)
            else:
                messages.success(request, _("The changes have been saved."))
                return _to_patron(patron)
    else:
        form = PatronForm(initial={key: getattr(patron, key) for key in PATRON_FIELDS})
    services.record_patron_viewed(actor, patron)
    return render(request, "patrons/patron_form.html", {"form": form, "patron": patron})


@never_cache
@require_POST
@permission_required(VIEW_PERSONAL, REVEAL)
def identifier_reveal(request: HttpRequest, uuid: UUID, pk: int) -> HttpResponse:
    """The identifier in full: an htmx fragment, or the whole patron page without JavaScript."""
    patron = _patron_or_404(uuid)
    identifier = _identifier_or_404(patron, pk)
    try:
        value = services.reveal_identifier(Actor.from_request(request), identifier)
    except PatronError as exc:
        messages.error(request, capfirst(exc.problems[0].message))
        return _to_patron(patron)
    if request.headers.get("HX-Request"):
        return render(
            request,
            "patrons/_identifier_value.html",
            {"identifier": identifier, "value": value, "patron": patron},
        )
    return _render_detail(request, patron, revealed={identifier.pk: value})


@never_cache
@require_POST
@permission_required(VIEW_PERSONAL, CHANGE_PATRON)
def identifier_add(request: HttpRequest, uuid: UUID) -> HttpResponse:
    patron = _patron_or_404(uuid)
    form = IdentifierForm(request.POST)
    if form.is_valid():
        actor = Actor.from_request(request)
        try:
            services.add_identifier(actor, patron, form.item())
        except PatronError as exc:
            add_problems(form, exc.problems)
            if any(p.code == "duplicate" for p in exc.problems):
                _flag_conflict(request, actor, patron, form.item())
        else:
            messages.success(request, _("The identifier has been added."))
            return _to_patron(patron)
    return _render_detail(request, patron, identifier_form=form)


def _flag_conflict(
    request: HttpRequest, actor: Actor, patron: Patron, item: dict[str, Any]
) -> None:
    """Another record holds this identifier: a conflicting claim goes to the review queue."""
    from libcrm.linkage.services import flag_identifier_conflict

    if flag_identifier_conflict(actor, patron, item["kind"], item["value"]) is not None:
        messages.warning(
            request,
            _("Another record holds this identifier. The two records were put in the review "
              "queue of possible duplicates."),
        )  # fmt: skip


@never_cache
@require_POST
@permission_required(VIEW_PERSONAL, CHANGE_PATRON)
def identifier_verify(request: HttpRequest, uuid: UUID, pk: int) -> HttpResponse:
    patron = _patron_or_404(uuid)
    identifier = _identifier_or_404(patron, pk)
    verified = request.POST.get("verified") == "1"
    services.set_identifier_verified(Actor.from_request(request), identifier, verified)
    if verified:
        messages.success(request, _("The identifier is marked as verified."))
    else:
        messages.success(request, _("The identifier is no longer marked as verified."))
    return _to_patron(patron)


@never_cache
@permission_required(VIEW_PERSONAL, CHANGE_PATRON)
def identifier_remove(request: HttpRequest, uuid: UUID, pk: int) -> HttpResponse:
    """Asks first (GET), removes on POST."""
    patron = _patron_or_404(uuid)
    identifier = _identifier_or_404(patron, pk)
    actor = Actor.from_request(request)
    if request.method == "POST":
        services.remove_identifier(actor, identifier)
        messages.success(request, _("The identifier has been removed."))
        return _to_patron(patron)
    services.record_patron_viewed(actor, patron)
    return render(
        request,
        "patrons/identifier_confirm_remove.html",
        {"patron": patron, "identifier": identifier},
    )


@never_cache
@require_POST
@permission_required(VIEW_PERSONAL, CHANGE_PATRON)
def household_create(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """A new household with this patron as its first member."""
    patron = _patron_or_404(uuid)
    form = HouseholdCreateForm(request.POST)
    if form.is_valid():
        actor = Actor.from_request(request)
        try:
            with transaction.atomic():
                household = services.create_household(
                    actor, form.cleaned_data["label"], form.cleaned_data["address"]
                )
                services.join_household(actor, patron, household, form.cleaned_data["role"])
        except PatronError as exc:
            add_problems(form, exc.problems, {"household_role": "role"})
        else:
            messages.success(request, _("The household has been created."))
            return _to_patron(patron)
    return _render_detail(request, patron, household_create_form=form)


@never_cache
@require_POST
@permission_required(VIEW_PERSONAL, CHANGE_PATRON)
def household_join(request: HttpRequest, uuid: UUID) -> HttpResponse:
    """Join the household of the patron holding the library card typed in."""
    patron = _patron_or_404(uuid)
    form = HouseholdJoinForm(request.POST)
    if form.is_valid():
        member = _household_member_by_card(form, patron)
        if member is not None and member.household is not None:
            try:
                services.join_household(
                    Actor.from_request(request),
                    patron,
                    member.household,
                    form.cleaned_data["role"],
                )
            except PatronError as exc:
                add_problems(form, exc.problems, {"household_role": "role"})
            else:
                messages.success(request, _("The patron has joined the household."))
                return _to_patron(patron)
    return _render_detail(request, patron, household_join_form=form)


def _household_member_by_card(form: HouseholdJoinForm, patron: Patron) -> Patron | None:
    """The patron whose card was typed, if they are someone else in a household; else a form
    error saying why not."""
    try:
        member = find_patron_by_identifier(
            IdentifierKind.LIBRARY_CARD, form.cleaned_data["card_number"]
        )
    except InvalidIdentifier as exc:
        form.add_error("card_number", capfirst(services.translated_reason(exc)))
        return None
    if member is None:
        form.add_error("card_number", _("No patron has this library card number."))
    elif member.pk == patron.pk:
        form.add_error("card_number", _("This is the patron's own card."))
    elif member.household is None:
        form.add_error(
            "card_number",
            _(
                "That patron is not in a household yet. Open their page to create one, "
                "or create a new household here."
            ),
        )
    else:
        return member
    return None


@never_cache
@require_POST
@permission_required(VIEW_PERSONAL, CHANGE_PATRON)
def household_leave(request: HttpRequest, uuid: UUID) -> HttpResponse:
    patron = _patron_or_404(uuid)
    try:
        services.leave_household(Actor.from_request(request), patron)
    except PatronError as exc:
        messages.error(request, capfirst(exc.problems[0].message))
    else:
        messages.success(request, _("The patron has left the household."))
    return _to_patron(patron)
