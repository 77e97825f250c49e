"""``libcrm add-staff``: create a staff account with a role, e.g. the first administrator.

The password is asked for twice on the terminal, or read from standard input with
``--password-stdin`` (for scripts: ``printf '%s\\n' "$PW" | libcrm add-staff … --password-stdin``);
it never appears on the command line, where other users could see it in the process list.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any, TextIO

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from libcrm.privacy.actors import Actor
from libcrm.staff.roles import Role
from libcrm.staff.services import StaffError, create_staff_member


class Command(BaseCommand):
    help = (
        "Create a staff account with a role. Asks for the password twice, or reads one line "
        "from standard input with --password-stdin."
    )
    stealth_options = ("stdin",)  # tests and callers may hand in their own input stream

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True, help="the name to sign in with")
        parser.add_argument(
            "--role",
            required=True,
            choices=Role.values,
            help="what the account may do: " + ", ".join(Role.values),
        )
        parser.add_argument("--display-name", default="", help="the name shown to colleagues")
        parser.add_argument("--email", default="", help="the staff member's e-mail address")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input instead of asking",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise CommandError(f"email: {email!r} is not an e-mail address") from None
        stdin: TextIO = options.get("stdin") or sys.stdin
        password = (
            self._read_password(stdin) if options["password_stdin"] else self._ask_password(stdin)
        )
        try:
            user = create_staff_member(
                Actor.system("libcrm add-staff"),
                username=options["username"],
                password=password,
                role=options["role"],
                display_name=options["display_name"],
                email=email,
            )
        except StaffError as exc:
            raise CommandError(f"{exc.field}: {exc.message} (no account was created)") from None
        role = Role(options["role"]).label
        self.stdout.write(
            self.style.SUCCESS(f"✔ Created staff account {user.get_username()!r} with role {role}.")
        )

    def _read_password(self, stdin: TextIO) -> str:
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("password: standard input held no password (no account was created)")
        return password

    def _ask_password(self, stdin: TextIO) -> str:
        if not stdin.isatty():
            raise CommandError(
                "password: there is no terminal to ask on; pipe the password in with "
                "--password-stdin"
            )
        password = getpass.getpass("Password: ")
        if not password:
            raise CommandError("password: must not be empty (no account was created)")
        if getpass.getpass("Password (again): ") != password:
            raise CommandError("password: the two entries differ (no account was created)")
        return password
