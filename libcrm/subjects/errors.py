"""Errors of data-subject requests and retention, with the field and reason a user can act on."""

from __future__ import annotations


class SubjectError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
