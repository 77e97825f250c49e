"""Writes of the patron portal: signing in (with throttling), e-mailed password links and
setting a password. Every attempt, good or bad, leaves an audit record; none of the answers a
visitor sees says whether a card number or e-mail address is known to the library."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from libcrm.patrons import identifiers as idkinds
from libcrm.patrons.identifiers import IdentifierKind
from libcrm.patrons.models import Identifier, Patron
from libcrm.patrons.selectors import find_patron_by_identifier
from libcrm.portal.emails import password_link_message
from libcrm.portal.errors import PortalError, ResetLinkRefused
from libcrm.portal.models import FailedSignIn, PortalAccount
from libcrm.portal.tokens import check_link_token, make_link_token
from libcrm.privacy.actors import Actor
from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.privacy.services import record_audit_event

log = logging.getLogger(__name__)

# Argon2id, whatever PASSWORD_HASHERS says: patrons' passwords never fall back to another hash.
HASHER = Argon2PasswordHasher()
_THROTTLE_SALT = "libcrm.portal.throttle"


def portal_actor(ip: str | None, patron: Patron | None = None) -> Actor:
    """Who acts in the portal: the signed-in patron (named by the audit record's patron
    reference, not in the label) or an anonymous visitor."""
    return Actor(label="patron" if patron is not None else "portal visitor", via="portal", ip=ip)


def hash_password(password: str) -> str:
    return make_password(password, hasher=HASHER)


def _password_matches(account: PortalAccount, password: str) -> bool:
    if not account.password.startswith(f"{HASHER.algorithm}$"):
        return False
    return HASHER.verify(password, account.password)


# --- signing in ---------------------------------------------------------------------------------


def _throttle_key(scope: str, value: str) -> str:
    return salted_hmac(f"{_THROTTLE_SALT}.{scope}", value).hexdigest()


def _card_normal(card: str) -> tuple[str, bool]:
    """The card number as looked up, and whether it is well-formed at all."""
    try:
        return idkinds.normalise(IdentifierKind.LIBRARY_CARD, card), True
    except idkinds.InvalidIdentifier:
        return card.strip().upper(), False


def _failures(scope: str, key: str, since: datetime) -> int:
    return FailedSignIn.objects.filter(scope=scope, key=key, at__gte=since).count()


@dataclass(frozen=True)
class SignIn:
    """The outcome of one attempt: ``patron`` is set only when it succeeded."""

    patron: Patron | None
    reason: str


def sign_in_patron(card: str, password: str, *, ip: str | None) -> SignIn:
    """Check a card number and password. Refused when the card or the client address has had
    too many failures lately — before the password is looked at, so guessing stops even on the
    right answer. Every outcome costs one Argon2 verification (or a dummy one) so that timing
    does not tell known cards from unknown ones."""
    now = timezone.now()
    since = now - timedelta(seconds=settings.LIBCRM_PORTAL_THROTTLE_SECONDS)
    normal, well_formed = _card_normal(card)
    card_key = _throttle_key(FailedSignIn.Scope.CARD, normal)
    address_key = _throttle_key(FailedSignIn.Scope.ADDRESS, ip or "unknown")
    throttled = (
        _failures(FailedSignIn.Scope.CARD, card_key, since) >= settings.LIBCRM_PORTAL_CARD_FAILURES
        or _failures(FailedSignIn.Scope.ADDRESS, address_key, since)
        >= settings.LIBCRM_PORTAL_ADDRESS_FAILURES
    )
    patron = find_patron_by_identifier(IdentifierKind.LIBRARY_CARD, normal) if well_formed else None
    account = PortalAccount.objects.filter(patron=patron).first() if patron is not None else None
    if account is None or throttled:
        hash_password(password)  # the same work as a real check
        reason = "throttled" if throttled else ("no_account" if patron else "unknown_card")
    elif _password_matches(account, password):
        reason = "ok"
    else:
        reason = "wrong_password"

    with transaction.atomic():
        if reason == "ok":
            assert account is not None and patron is not None
            account.last_login, account.failed_count = now, 0
            if HASHER.must_update(account.password):
                account.password = hash_password(password)
            account.save(update_fields=["last_login", "failed_count", "password"])
            record_audit_event(
                portal_actor(ip, patron),
                AuditAction.PORTAL_LOGIN,
                patron=patron,
                target=f"patron:{patron.uuid}",
            )
            return SignIn(patron, reason)
        if reason != "throttled":  # refused attempts do not extend the pause
            FailedSignIn.objects.filter(at__lt=since).delete()
            FailedSignIn.objects.bulk_create(
                [
                    FailedSignIn(scope=FailedSignIn.Scope.CARD, key=card_key),
                    FailedSignIn(scope=FailedSignIn.Scope.ADDRESS, key=address_key),
                ]
            )
        if account is not None:
            account.failed_count += 1
            account.last_failed_at = now
            account.save(update_fields=["failed_count", "last_failed_at"])
        record_audit_event(
            portal_actor(ip),
            AuditAction.PORTAL_LOGIN_FAILED,
            patron=patron,
            target="portal:signin",
            detail={"reason": reason},
        )
    return SignIn(None, reason)


def record_signed_out(patron: Patron, *, ip: str | None) -> None:
    record_audit_event(
        portal_actor(ip, patron),
        AuditAction.LOGOUT,
        patron=patron,
        target="portal:signout",
    )


# --- password links -----------------------------------------------------------------------------


def _link_address(patron: Patron, entered_email: str | None) -> str | None:
    """Where a link goes: the e-mail address the patron typed (it is theirs: it found them), or
    their e-mail on file, verified ones first."""
    if entered_email:
        return entered_email
    emails = Identifier.objects.filter(patron=patron, kind=IdentifierKind.EMAIL).order_by(
        "-verified", "id"
    )
    for identifier in emails:
        if identifier.value:
            return identifier.value
    return None


def _link_url(base_url: str, patron: Patron) -> str:
    base = settings.LIBCRM_PORTAL_BASE_URL or base_url.rstrip("/")
    return base + reverse("portal:set-password", args=[make_link_token(patron)])


def _recent_links(patron: Patron) -> int:
    hour_ago = timezone.now() - timedelta(hours=1)
    return AuditEvent.objects.filter(
        action=AuditAction.PASSWORD_RESET,
        patron=patron,
        at__gte=hour_ago,
        detail__outcome="sent",
    ).count()


def _send_link(actor: Actor, patron: Patron, address: str, base_url: str) -> str:
    first_time = not PortalAccount.objects.filter(patron=patron).exists()
    message = password_link_message(address, _link_url(base_url, patron), first_time=first_time)
    try:
        message.send()
    except OSError:  # SMTP refused or unreachable: the patron sees the usual answer
        log.exception("portal password link could not be sent")
        outcome = "send_failed"
    else:
        outcome = "sent"
    record_audit_event(
        actor,
        AuditAction.PASSWORD_RESET,
        patron=patron,
        target="portal:password-link",
        detail={"outcome": outcome, "first_time": first_time},
    )
    return outcome


def request_password_link(card_or_email: str, *, ip: str | None, base_url: str) -> str:
    """A visitor asks for a link by card number or e-mail address. Returns the outcome for the
    audit and tests (``sent``, ``no_match``, ``no_email``, ``too_many``, ``send_failed``); the
    visitor is told the same thing whatever it is."""
    actor = portal_actor(ip)
    text = (card_or_email or "").strip()
    kind = IdentifierKind.EMAIL if "@" in text else IdentifierKind.LIBRARY_CARD
    try:
        patron = find_patron_by_identifier(kind, text) if text else None
    except idkinds.InvalidIdentifier:
        patron = None
    address = None
    if patron is not None:
        entered = idkinds.normalise(kind, text) if kind == IdentifierKind.EMAIL else None
        address = _link_address(patron, entered)
    if (
        patron is None
        or address is None
        or _recent_links(patron) >= (settings.LIBCRM_PORTAL_RESET_PER_HOUR)
    ):
        outcome = "no_match" if patron is None else ("no_email" if address is None else "too_many")
        record_audit_event(
            actor,
            AuditAction.PASSWORD_RESET,
            patron=patron,
            target="portal:password-link",
            detail={"outcome": outcome, "by": kind},
        )
        return outcome
    return _send_link(actor, patron, address, base_url)


def send_activation_link(actor: Actor, patron: Patron, *, base_url: str) -> str:
    """Staff send a patron the link to set up (or reset) their portal account."""
    address = _link_address(patron, None)
    if address is None:
        raise PortalError("email", _("the patron has no e-mail address on file"))
    return _send_link(actor, patron, address, base_url)


def record_link_refused(exc: ResetLinkRefused, *, ip: str | None) -> None:
    record_audit_event(
        portal_actor(ip),
        AuditAction.PASSWORD_RESET,
        target="portal:set-password",
        detail={"outcome": exc.outcome},
    )


def check_password_link(token: str, *, ip: str | None) -> Patron:
    """The patron a link is for; a refused link is audited and raised again."""
    try:
        return check_link_token(token)
    except ResetLinkRefused as exc:
        record_link_refused(exc, ip=ip)
        raise


def set_password_from_link(token: str, password: str, *, ip: str | None) -> Patron:
    """Set (or create the account with) a new password, once per link. Raises
    :class:`ResetLinkRefused` for a bad link and :class:`PortalError` for a weak password."""
    patron = check_password_link(token, ip=ip)
    try:
        validate_password(password)
    except ValidationError as exc:
        raise PortalError("password", " ".join(exc.messages)) from None
    try:
        with transaction.atomic():
            # Lock, then check again: two tabs submitting one link cannot both succeed.
            Patron.objects.select_for_update().filter(pk=patron.pk).exists()
            check_link_token(token)
            account, created = PortalAccount.objects.get_or_create(
                patron=patron, defaults={"password": hash_password(password)}
            )
            if not created:
                account.password = hash_password(password)
                account.failed_count = 0
                account.save(update_fields=["password", "failed_count"])
            record_audit_event(
                portal_actor(ip, patron),
                AuditAction.PASSWORD_RESET,
                patron=patron,
                target="portal:set-password",
                detail={"outcome": "completed", "first_time": created},
            )
    except ResetLinkRefused as exc:
        record_link_refused(exc, ip=ip)
        raise
    return patron
