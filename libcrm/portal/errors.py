"""Errors of the portal: each names the field and the reason; nothing was changed."""

from __future__ import annotations


class PortalError(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class ResetLinkRefused(Exception):
    """A reset or activation link that cannot be used. ``outcome`` is what the audit records:
    ``forged`` (not signed by us), ``expired``, ``used`` (the password changed since it was
    sent, so it was used or superseded) or ``unknown`` (the patron no longer exists)."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        super().__init__(outcome)
