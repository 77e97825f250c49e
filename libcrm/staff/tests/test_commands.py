"""``libcrm add-staff``: accounts with a role, passwords never on the command line, errors as
plain messages."""

from __future__ import annotations

import getpass
import subprocess
import sys
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from libcrm.privacy.models import AuditAction, AuditEvent
from libcrm.staff.roles import Role, role_of

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "shelf-mark-Q7-2026"


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[str]]:
    """Answer getpass prompts with the given entries; returns the prompts shown."""

    def answer(*entries: str) -> list[str]:
        prompts: list[str] = []
        replies: Iterator[str] = iter(entries)

        def fake_getpass(prompt: str = "Password: ") -> str:
            prompts.append(prompt)
            return next(replies)

        monkeypatch.setattr(getpass, "getpass", fake_getpass)
        return prompts

    return answer


def add_staff(stdin: StringIO | None = None, **options: Any) -> str:
    out = StringIO()
    call_command("add_staff", stdin=stdin or Terminal(), stdout=out, **options)
    return out.getvalue()


@pytest.mark.django_db
def test_creates_an_administrator_with_the_password_from_stdin() -> None:
    output = add_staff(
        StringIO(PASSWORD + "\n"),
        username="lin",
        role="administrator",
        display_name="林老师",
        email="lin@lib.example.org",
        password_stdin=True,
    )
    user = get_user_model().objects.get(username="lin")
    assert role_of(user) is Role.ADMINISTRATOR
    assert user.is_staff and user.email == "lin@lib.example.org"
    assert user.staff_profile.display_name == "林老师"
    assert authenticate(username="lin", password=PASSWORD) == user
    assert AuditEvent.objects.filter(action=AuditAction.CREATE_STAFF).exists()
    assert "Created staff account 'lin' with role Administrator" in output


@pytest.mark.django_db
def test_asks_for_the_password_twice(typed: Callable[..., list[str]]) -> None:
    prompts = typed(PASSWORD, PASSWORD)
    add_staff(username="desk1", role="front_desk")
    assert prompts == ["Password: ", "Password (again): "]
    user = authenticate(username="desk1", password=PASSWORD)
    assert user is not None and role_of(user) is Role.FRONT_DESK and not user.is_staff


@pytest.mark.django_db
def test_two_different_entries_create_nothing(typed: Callable[..., list[str]]) -> None:
    typed(PASSWORD, PASSWORD + "x")
    with pytest.raises(CommandError, match="the two entries differ"):
        add_staff(username="desk1", role="front_desk")
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_refuses_a_weak_password_with_the_validators_reasons() -> None:
    with pytest.raises(CommandError) as refused:
        add_staff(StringIO("12345\n"), username="lin", role="administrator", password_stdin=True)
    message = str(refused.value)
    assert message.startswith("password: ")
    assert "too short" in message and "at least 10 characters" in message
    assert "entirely numeric" in message
    assert "no account was created" in message
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_refuses_a_taken_username(make_staff: Callable[..., Any]) -> None:
    make_staff("analyst", username="Lin")
    with pytest.raises(CommandError, match="username: is already taken"):
        add_staff(StringIO(PASSWORD), username="lin", role="analyst", password_stdin=True)


@pytest.mark.django_db
def test_refuses_an_unknown_role_and_a_malformed_email() -> None:
    with pytest.raises(CommandError, match="invalid choice: 'director'"):
        add_staff(StringIO(PASSWORD), username="lin", role="director", password_stdin=True)
    with pytest.raises(CommandError, match="email: 'lin-at-library' is not an e-mail address"):
        add_staff(
            StringIO(PASSWORD),
            username="lin",
            role="analyst",
            email="lin-at-library",
            password_stdin=True,
        )
    assert not get_user_model().objects.exists()


def test_without_a_terminal_it_says_to_use_password_stdin() -> None:
    with pytest.raises(CommandError, match="--password-stdin"):
        add_staff(StringIO(""), username="lin", role="analyst")


def test_empty_stdin_is_refused() -> None:
    with pytest.raises(CommandError, match="standard input held no password"):
        add_staff(StringIO("\n"), username="lin", role="analyst", password_stdin=True)


@pytest.mark.parametrize("command", ["add-staff", "rotate-keys"])
def test_the_libcrm_cli_knows_the_hyphenated_names(command: str) -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "libcrm", command, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: libcrm" in result.stdout
