"""Timing the stages of ``libcrm demo`` (generate, write files, register, import, ingest), so
the command can say where its time went."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class StageTimes:
    seconds: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - began

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started

    def lines(self) -> list[str]:
        width = max((len(name) for name in self.seconds), default=0)
        out = [f"  {name:<{width}}  {seconds:6.2f} s" for name, seconds in self.seconds.items()]
        out.append(f"  {'total (wall clock)':<{width}}  {self.total:6.2f} s")
        return out
