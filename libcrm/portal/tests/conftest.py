"""Portal test fixtures: a real SMTP server on 127.0.0.1, patrons with portal accounts."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from libcrm.portal import services
from libcrm.portal.services import set_password_from_link
from libcrm.portal.tokens import make_link_token

PASSWORD = "Plum-blossom-2026!"


@pytest.fixture(autouse=True)
def light_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still Argon2id, with less memory and time than production's (100 MiB a hash would make
    these tests slow on a small machine); the encoded hash records the parameters used."""
    monkeypatch.setattr(services.HASHER, "memory_cost", 1024)
    monkeypatch.setattr(services.HASHER, "time_cost", 1)
    monkeypatch.setattr(services.HASHER, "parallelism", 1)


@dataclass
class Mailbox:
    """What the SMTP server received, as parsed messages."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def body(self, index: int = -1) -> str:
        return self.messages[index].get_body(preferencelist=("plain",)).get_content()

    def link(self, index: int = -1) -> str:
        """The path of the first portal link in a message."""
        found = re.search(r"https?://[^/\s]+(/portal/set-password/[^\s]+/)", self.body(index))
        assert found, self.body(index)
        return found.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; Django sends to it over SMTP."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def make_member(make_patron: Callable[..., Any]) -> Callable[..., Any]:
    """A patron with a card, an e-mail address and a phone; ``password=`` also sets up their
    portal account through the real link service."""

    counter = iter(range(1, 10_000))

    def make(password: str | None = PASSWORD, **fields: Any) -> Any:
        n = next(counter)
        patron = make_patron(
            identifiers=[
                {"kind": "library_card", "value": f"PC{n:05d}"},
                {"kind": "email", "value": f"reader{n}@example.edu.cn"},
                {"kind": "phone", "value": f"+8613800{n:06d}"},
            ],
            **fields,
        )
        if password is not None:
            set_password_from_link(make_link_token(patron), password, ip="127.0.0.1")
        return patron

    return make


def card_of(patron: Any) -> str:
    return patron.identifiers.get(kind="library_card").value


def email_of(patron: Any) -> str:
    return patron.identifiers.get(kind="email").value


def without_csrf(html: bytes) -> str:
    """A page with its per-response CSRF token blanked, to compare two answers."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html.decode())
