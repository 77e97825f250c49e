"""What identity linkage refuses, with a message a librarian can act on."""

from __future__ import annotations


class LinkageError(Exception):
    """A merge, unmerge or review decision that cannot be carried out; nothing was changed.

    ``code`` is stable for the API (``self_merge``, ``merge_chain``, ``not_merged``…); the
    message is translated.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
