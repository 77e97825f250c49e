"""Delimited text (CSV, tab- or semicolon-separated) as numbered rows under a header.

Built on the same streaming line source as the log formats (gzip, GBK detection, truncation),
with Python's ``csv`` parser on top, so quoted fields may span lines and each row still knows
the line it starts on. Header names are matched through an alias table after normalising case,
spaces, dashes and underscores, so ``Card Number``, ``card_number`` and ``卡号`` can all mean
the card column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from libcrm.events.connectors.base import Findings
from libcrm.events.connectors.reading import EMPTY_FILE, LineSource, Opened, TextDecoder

_BLOCK_LINES = 8192
_DELIMITERS = (",", "\t", ";", "|")
#: How exports spell "no value"; MySQL dumps write NULL or \N.
EMPTY_VALUES = frozenset({"", "NULL", "null", "\\N"})
_SEPARATORS = re.compile(r"[\s_\-]+")


def normalise_header(name: str) -> str:
    """The form header names are compared in: lower case, no spaces, dashes or underscores."""
    return _SEPARATORS.sub("", name.strip().lower())


@dataclass(frozen=True, slots=True)
class Row:
    """One record: the line it starts on and its cells (stripped; "no value" spellings → "")."""

    line: int
    cells: list[str]


class DelimitedRows:
    """The rows of a delimited file after its header line.

    ``columns`` maps each canonical name of ``aliases`` (alias → canonical) found in the
    header to its position; unknown headers are kept in ``header`` for mappings by name.
    Rows with more or fewer cells than the header are rejected (trailing empty cells, which
    spreadsheet programs add, are forgiven).
    """

    def __init__(
        self,
        opened: Opened,
        findings: Findings,
        *,
        aliases: Mapping[str, str] | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.findings = findings
        self.aliases = {normalise_header(k): v for k, v in (aliases or {}).items()}
        self.delimiter = delimiter
        self.header: list[str] = []
        self.header_line = 0
        self.columns: dict[str, int] = {}
        self.decoder = TextDecoder(findings)
        self._source = LineSource(opened, findings, block_lines=_BLOCK_LINES)
        self._started: list[int] = []  # line numbers handed to the csv reader since the last row
        self._lines = self._texts()

    @property
    def encoding(self) -> str:
        return self.decoder.encoding or "utf-8"

    def _texts(self) -> Iterator[str]:
        for block in self._source:
            for i, text in enumerate(self.decoder.texts(block)):
                if text is not None:
                    self._started.append(block.first + i)
                    yield text + "\n"

    def read_header(self) -> bool:
        """Find the header (the first non-blank line); False when the file has none."""
        for text in self._lines:
            if text.strip():
                line = self._started[-1]
                self._started.clear()
                self.delimiter = self.delimiter or _sniff(text)
                self.header = next(csv.reader([text], delimiter=self.delimiter))
                self.header = [name.strip() for name in self.header]
                self.header_line = line
                for position, name in enumerate(self.header):
                    canonical = self.aliases.get(normalise_header(name))
                    if canonical and canonical not in self.columns:
                        self.columns[canonical] = position
                return True
            self._started.clear()
        if not self.findings.truncated:
            self.findings.reject(1, "", EMPTY_FILE)
        return False

    def missing(self, required: tuple[str, ...], spelled: Mapping[str, str]) -> bool:
        """Reject the file when a required column is absent; True if one was."""
        absent = [name for name in required if name not in self.columns]
        for name in absent:
            self.findings.reject(
                self.header_line,
                spelled.get(name, name),
                f"no {spelled.get(name, name)!r} column (the header has: {', '.join(self.header)})",
            )
        return bool(absent)

    def __iter__(self) -> Iterator[Row]:
        if not self.header and not self.read_header():
            return
        width = len(self.header)
        reader = csv.reader(self._lines, delimiter=self.delimiter or ",")
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = self._started[0] if self._started else 0
                self._started.clear()
                hint = " (an unclosed quote?)" if "field limit" in str(exc) else ""
                self.findings.reject(line, "", f"not valid CSV: {exc}{hint}")
                continue
            line = self._started[0]
            self._started.clear()
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(cells) > width and not any(c.strip() for c in cells[width:]):
                cells = cells[:width]
            if len(cells) != width:
                self.findings.reject(
                    line, "", f"expected {width} fields like the header, found {len(cells)}"
                )
                continue
            yield Row(line, ["" if (c := cell.strip()) in EMPTY_VALUES else c for cell in cells])


def _sniff(header: str) -> str:
    """The delimiter the header line uses most (a comma when it uses none)."""
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
