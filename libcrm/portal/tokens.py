"""Single-use, time-limited links for setting a portal password (activation and reset).

A token is signed with the secret key (``django.core.signing``, with its timestamp) and carries
a fingerprint of the account's password state — hash and last sign-in — as Django's
``PasswordResetTokenGenerator`` does: once the password is set (or the patron signs in), the
fingerprint no longer matches and the link is dead. Signing rather than one opaque HMAC tells a
forged link from an expired or a used one, so the audit trail can say which.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from libcrm.patrons.models import Patron
from libcrm.portal.errors import ResetLinkRefused
from libcrm.portal.models import PortalAccount

SALT = "libcrm.portal.password-link"


def password_state(patron: Patron) -> str:
    """Changes whenever the password is set or the patron signs in."""
    account = PortalAccount.objects.filter(patron=patron).first()
    if account is None:
        raw = "no-account"
    else:
        last = account.last_login.isoformat() if account.last_login else ""
        raw = f"{account.pk}|{account.password}|{last}"
    return salted_hmac(SALT, raw).hexdigest()[:32]


def make_link_token(patron: Patron) -> str:
    return signing.dumps({"p": str(patron.uuid), "s": password_state(patron)}, salt=SALT)


def check_link_token(token: str) -> Patron:
    """The patron a link is for, or :class:`ResetLinkRefused` saying why not."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.LIBCRM_PORTAL_RESET_SECONDS)
    except signing.SignatureExpired:
        raise ResetLinkRefused("expired") from None
    except (signing.BadSignature, ValueError, UnicodeError):
        raise ResetLinkRefused("forged") from None
    if not isinstance(payload, dict) or not {"p", "s"} <= payload.keys():
        raise ResetLinkRefused("forged")
    patron = Patron.objects.filter(uuid=payload["p"]).first()
    if patron is None:
        raise ResetLinkRefused("unknown")
    if not constant_time_compare(str(payload["s"]), password_state(patron)):
        raise ResetLinkRefused("used")
    return patron
