"""For tests: open a fully authenticated staff session without the sign-in pages."""

from __future__ import annotations

import time
from typing import Any

from libcrm.staff import mfa, reauth


def sign_in_fully(client: Any, user: Any) -> None:
    """``client.force_login`` plus what the two-step sign-in would have recorded: the second
    factor passed and a fresh proof of identity (so ``reauth_required`` pages open)."""
    client.force_login(user)
    session = client.session
    session[mfa.SECOND_FACTOR_KEY] = "totp"
    session[reauth.SESSION_KEY] = int(time.time())
    session.save()
