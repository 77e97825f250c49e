"""The console's part of the portal: staff send a patron the link to set up their account."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from libcrm.console.access import permission_required
from libcrm.patrons.selectors import get_patron
from libcrm.portal.errors import PortalError
from libcrm.portal.services import send_activation_link
from libcrm.privacy.actors import Actor
from libcrm.staff.roles import CHANGE_PATRON, VIEW_PERSONAL


@require_POST
@permission_required(VIEW_PERSONAL, CHANGE_PATRON)
def send_activation(request: HttpRequest, uuid: UUID) -> HttpResponse:
    patron = get_patron(uuid)
    if patron is None:
        raise Http404
    try:
        outcome = send_activation_link(
            Actor.from_request(request), patron, base_url=request.build_absolute_uri("/")
        )
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        if outcome == "sent":
            messages.success(request, _("The portal link was sent to the patron's e-mail address."))
        else:
            messages.error(request, _("The e-mail could not be sent; check the mail settings."))
    return redirect("console:patron-detail", uuid=patron.uuid)
