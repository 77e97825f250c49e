"""``{% consent_panel patron %}``: the patron page's "Consents" panel (state, and a form to
record a choice for staff who may change patrons)."""

from __future__ import annotations

from typing import Any

from django import template

from libcrm.consent.forms import StaffConsentForm
from libcrm.consent.selectors import consents_of, patron_is_child
from libcrm.patrons.models import Patron
from libcrm.staff.roles import CHANGE_PATRON, VIEW_PERSONAL

register = template.Library()


@register.inclusion_tag("consent/_staff_panel.html", takes_context=True)
def consent_panel(context: Any, patron: Patron) -> dict[str, Any]:
    user = context["request"].user
    can_change = user.has_perms([VIEW_PERSONAL, CHANGE_PATRON])
    return {
        "patron": patron,
        "consents": consents_of(patron),
        "child": patron_is_child(patron),
        "form": StaffConsentForm(patron) if can_change else None,
        "csrf_token": context.get("csrf_token"),
    }
