"""Errors of the consent service: each names the field and the reason; nothing was written."""

from __future__ import annotations


class ConsentError(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
