"""Console pages for API tokens: list, create (the secret is shown once), revoke.

Only staff with ``api.manage_tokens`` (administrators) may use them; others get 403 and a
``DENIED`` audit record (the console's :func:`~libcrm.console.access.permission_required`). The
views only translate between HTTP and :mod:`libcrm.api.services`, which validate and audit.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from libcrm.api.forms import ApiTokenForm
from libcrm.api.selectors import api_tokens, get_api_token, token_status
from libcrm.api.services import ApiTokenError, create_api_token, revoke_api_token
from libcrm.console.access import permission_required
from libcrm.privacy.actors import Actor
from libcrm.staff.roles import MANAGE_TOKENS

# Service fields that the form names differently.
_FORM_FIELDS = {"expires_at": "expires_on"}


@permission_required(MANAGE_TOKENS)
@require_GET
def token_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [(token, token_status(token, now)) for token in api_tokens()]
    return render(request, "api/token_list.html", {"rows": rows})


@permission_required(MANAGE_TOKENS)
@never_cache
@require_http_methods(["GET", "POST"])
def token_create(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, plaintext = create_api_token(
                Actor.from_request(request),
                form.cleaned_data["name"],
                form.cleaned_data["scopes"],
                expires_at=form.expires_at(),
            )
        except ApiTokenError as exc:
            form.add_error(_FORM_FIELDS.get(exc.field, exc.field), exc.message)
        else:
            # Rendered, not redirected: the plaintext exists only in this response, never in a
            # session or a URL; never_cache keeps it out of the browser's cache too.
            context: dict[str, Any] = {
                "token": token,
                "plaintext": plaintext,
                "example_url": request.build_absolute_uri(reverse("api:list_patrons")),
            }
            return render(request, "api/token_created.html", context, status=201)
    return render(request, "api/token_form.html", {"form": form})


@permission_required(MANAGE_TOKENS)
@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_api_token(pk)
    if token is None:
        raise Http404(_("No API token has this id."))
    if request.method == "POST":
        revoke_api_token(Actor.from_request(request), token)
        messages.success(
            request,
            _("The token “%(name)s” (%(prefix)s) is revoked; clients using it are refused.")
            % {"name": token.name, "prefix": token.prefix},
        )
        return redirect("api-tokens:list")
    status = token_status(token, timezone.now())
    return render(request, "api/token_revoke.html", {"token": token, "status": status})
