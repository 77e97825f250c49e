"""Errors of the patron registry: each names the field (as a path) and the reason."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """``code`` lets callers react without parsing messages: "invalid" (the value itself is
    wrong) or "duplicate" (a valid identifier that already belongs to a patron)."""

    path: str
    message: str
    code: str = "invalid"


class PatronError(Exception):
    """One or more fields were refused; nothing was written."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))

    @classmethod
    def single(cls, path: str, message: str) -> PatronError:
        return cls([FieldProblem(path, message)])
