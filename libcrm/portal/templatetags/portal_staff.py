"""``{% portal_account_panel patron %}``: the patron page's small "Portal account" panel."""

from __future__ import annotations

from typing import Any

from django import template

from libcrm.patrons.identifiers import IdentifierKind
from libcrm.patrons.models import Patron
from libcrm.portal.models import PortalAccount

register = template.Library()


@register.inclusion_tag("portal/_staff_panel.html", takes_context=True)
def portal_account_panel(context: Any, patron: Patron) -> dict[str, Any]:
    user = context["request"].user
    return {
        "patron": patron,
        "account": PortalAccount.objects.filter(patron=patron).first(),
        "has_email": patron.identifiers.filter(kind=IdentifierKind.EMAIL).exists(),
        "can_send": user.has_perms(["patrons.view_personal_data", "patrons.change_patron"]),
        "csrf_token": context.get("csrf_token"),
    }
