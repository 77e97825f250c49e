"""Template context every console page needs: the signed-in staff member's role and menu."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from libcrm.staff.roles import role_of


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"staff_role": role_of(user)}
