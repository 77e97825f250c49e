"""What the segments app refuses, with the part of the request at fault."""

from __future__ import annotations

from libcrm.segments.rules import RuleError


class SegmentError(ValueError):
    """A tag or segment that cannot be saved or counted; ``errors`` point at the offending part
    (``/all/2/value`` inside the rule, or a field name such as ``slug`` or ``parent``)."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("; ".join(e.message() for e in errors))

    def messages(self, lang: str = "en") -> list[dict[str, object]]:
        return [e.as_dict(lang) for e in self.errors]
