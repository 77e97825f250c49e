"""``libcrm demo-code``: the current sign-in code of the demo accounts (their key is published,
like their password), for trying the demo without an authenticator app."""

from __future__ import annotations

import time
from typing import Any

import pyotp
from django.core.management.base import BaseCommand

from libcrm.staff.mfa import DEMO_SECRET, STEP_SECONDS


class Command(BaseCommand):
    help = "Print the current two-factor code of the demo's staff accounts."

    def handle(self, *args: Any, **options: Any) -> None:
        left = STEP_SECONDS - int(time.time()) % STEP_SECONDS
        self.stdout.write(pyotp.TOTP(DEMO_SECRET).now())
        self.stderr.write(
            f"(valid for about {left + STEP_SECONDS} more seconds; each code signs in once — "
            "run again for the next. Key for an authenticator app: "
            f"{DEMO_SECRET})"
        )
