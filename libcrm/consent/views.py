"""The console's part of consent: staff record a patron's choice (mounted in the portal's URL
namespace as ``portal:staff-set-consent``, beside the activation link it shares a panel with)."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from libcrm.consent.errors import ConsentError
from libcrm.consent.forms import StaffConsentForm
from libcrm.consent.models import ConsentVia
from libcrm.consent.services import set_consent
from libcrm.console.access import permission_required
from libcrm.patrons.selectors import get_patron
from libcrm.privacy.actors import Actor
from libcrm.staff.roles import CHANGE_PATRON, VIEW_PERSONAL


@require_POST
@permission_required(VIEW_PERSONAL, CHANGE_PATRON)
def staff_set_consent(request: HttpRequest, uuid: UUID) -> HttpResponse:
    patron = get_patron(uuid)
    if patron is None:
        raise Http404
    form = StaffConsentForm(patron, request.POST)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        messages.error(
            request, _("The consent was not recorded: %(problems)s") % {"problems": problems}
        )
    else:
        try:
            set_consent(
                Actor.from_request(request),
                patron,
                form.cleaned_data["purpose"],
                form.cleaned_data["granted"],
                via=ConsentVia.STAFF,
                guardian=form.chosen_guardian(),
            )
        except ConsentError as exc:
            messages.error(
                request,
                _("The consent was not recorded: %(field)s: %(reason)s")
                % {"field": exc.field, "reason": exc.message},
            )
        else:
            messages.success(request, _("The consent is recorded."))
    return redirect(reverse("console:patron-detail", args=[patron.uuid]) + "#consents")
