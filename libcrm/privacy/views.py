"""The audit trail browser for administrators: who did what, to which record, when, and from
which address."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from libcrm.console.access import permission_required
from libcrm.privacy.models import AuditAction
from libcrm.privacy.selectors import audit_events
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

    def clean(self) -> dict:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date is before the start date."))
        return data


@never_cache
@permission_required(BROWSE_AUDIT)
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    form.is_valid()  # a malformed filter is shown with its error and otherwise ignored
    filters = {
        "actor": (form.cleaned_data.get("actor") or "").strip(),
        "action": form.cleaned_data.get("action") or "",
        "patron_key": (form.cleaned_data.get("patron_key") or "").strip(),
        "since": form.cleaned_data.get("since"),
        "until": form.cleaned_data.get("until"),
    }
    page = Paginator(audit_events(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "privacy/audit_list.html",
        {
            "form": form,
            "page": page,
            "filtered": any(filters.values()),
            "can_open_patrons": request.user.has_perm(VIEW_PERSONAL),
        },
    )
