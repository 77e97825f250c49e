"""Class numbers of the three schemes libcrm reads — CLC, LCC and DDC — parsed into their chain
of ancestors, so that a reader's interest in "TP311.13" can be rolled up to TP and to T.

Pure functions over strings; no database. A *path* lists a class number's structural ancestors,
top class first, ending with the class number itself in normal form. Ancestors that the
schedules (:mod:`libcrm.catalog.schedules`) name are its *known* ancestors.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from libcrm.catalog import schedules
from libcrm.catalog.errors import InvalidClassNumber
from libcrm.catalog.schedules import ScheduleEntry

#: Longer "class numbers" are call numbers or notes pasted into the wrong subfield.
MAX_CODE_LENGTH = 40


class Scheme(StrEnum):
    """A classification scheme; CLC is 中国图书馆分类法 (中图法), the scheme of Chinese
    libraries, preferred over LCC and DDC when a record carries several."""

    CLC = "clc"
    LCC = "lcc"
    DDC = "ddc"


@dataclass(frozen=True)
class ClassNumber:
    scheme: Scheme
    code: str
    path: tuple[str, ...]

    @property
    def top(self) -> str:
        return self.path[0]

    @property
    def tree_path(self) -> str:
        """The path as stored for subtree queries: "/T/TP/TP3/…/"; a class's subtree is every
        tree path that starts with its own."""
        return tree_path(self.path)


def tree_path(path: tuple[str, ...] | list[str]) -> str:
    return "/" + "/".join(path) + "/"


def _clean(raw: str) -> str:
    # NFKC folds the full-width letters, digits and punctuation of Chinese input (ＴＰ３１１．１３).
    return unicodedata.normalize("NFKC", raw or "").strip().upper()


# --- CLC -----------------------------------------------------------------------------------------

CLC_TOP_CLASSES = frozenset("ABCDEFGHIJKNOPQRSTUVXZ")
#: Only T (工业技术) is subdivided by a second letter.
CLC_T_SUBCLASSES = frozenset("BDEFGHJKLMNPQSUV")
_CLC = re.compile(r"(?P<letters>[A-Z]{1,2})(?P<number>\d[\d.]*)?(?P<aux>.*)")
# Auxiliary notation after the main number: 总论复分 (-), 地区 ((…)), 民族 (=), 时代 ("…"), <…>.
_CLC_AUX = re.compile(r'(?:-\d+(?:\.\d+)*|\(\d+(?:\.\d+)*\)|=\d+(?:\.\d+)*|"\d+"|<\d+(?:\.\d+)*>)*')


def _clc_digits(number: str, raw: str) -> str:
    """The digits of a CLC number, checking that dots (if any) fall after every third digit."""
    number = number.rstrip(".")
    groups = number.split(".")
    if len(groups) > 1 and (
        any(len(g) != 3 for g in groups[:-1]) or not groups[-1] or len(groups[-1]) > 3
    ):
        raise InvalidClassNumber(
            f"{raw!r} is not a CLC class number: a dot goes after every third digit"
        )
    return "".join(groups)


def _with_dots(letters: str, digits: str) -> str:
    return letters + ".".join(digits[i : i + 3] for i in range(0, len(digits), 3))


def parse_clc(raw: str) -> list[str]:
    """The path of the first CLC class number in ``raw``: "TP311.13" →
    ["T", "TP", "TP3", "TP31", "TP311", "TP311.1", "TP311.13"].

    Accepts lower case, full-width characters, spaces, a 种次号 (book number) after "/"
    ("TP311.13/123"), and several classes ("I247.5;I206", of which the first counts).
    """
    tokens = split_class_numbers(Scheme.CLC, raw)
    if not tokens:
        raise InvalidClassNumber("no CLC class number given")
    return list(_parse_clc_token(tokens[0]).path)


def _parse_clc_token(raw: str) -> ClassNumber:
    text = re.sub(r"\s+", "", _clean(raw)).split("/", 1)[0].strip("[]")
    match = _CLC.fullmatch(text)
    if not match or match["letters"][0] not in CLC_TOP_CLASSES:
        raise InvalidClassNumber(
            f"{raw!r} is not a CLC class number: it must start with one of the 22 top classes "
            f"({''.join(sorted(CLC_TOP_CLASSES))})"
        )
    letters = match["letters"]
    if len(letters) == 2 and (letters[0] != "T" or letters[1] not in CLC_T_SUBCLASSES):
        raise InvalidClassNumber(
            f"{raw!r} is not a CLC class number: only T has two-letter subclasses (TB…TV)"
        )
    aux = match["aux"]
    if not _CLC_AUX.fullmatch(aux):
        raise InvalidClassNumber(f"{raw!r} is not a CLC class number: cannot read {aux!r}")
    digits = _clc_digits(match["number"] or "", raw)
    path = [letters[:1]] + ([letters] if len(letters) == 2 else [])
    path += [_with_dots(letters, digits[:n]) for n in range(1, len(digits) + 1)]
    code = _with_dots(letters, digits) + aux
    if code != path[-1]:
        path.append(code)
    return _checked(Scheme.CLC, code, path, raw)


# --- LCC -----------------------------------------------------------------------------------------

#: LCC uses every letter but I, O, W, X and Y for its 21 classes.
LCC_CLASSES = frozenset("ABCDEFGHJKLMNPQRSTUVZ")
_LCC = re.compile(r"(?P<letters>[A-Z]{1,3})\s*(?P<number>\d+(?:\.\d+)?)?(?P<rest>.*)")
# What may follow the class number: cutters (.P98, P98) and a year, none of which is a class.
# Possessive quantifiers keep a long run of letters from being split every possible way.
_LCC_REST = re.compile(r"(?:\s*\.?[A-Z][A-Z0-9]*+|\s+\d{4}[A-Z]*+)*+\s*")


def parse_lcc(raw: str) -> list[str]:
    """The path of an LCC class number: "QA76.73.P98" → ["Q", "QA", "QA76", "QA76.73"].

    Cutter numbers (".P98") and dates identify a book or a topic within the class, not a
    narrower class, so they are dropped.
    """
    tokens = split_class_numbers(Scheme.LCC, raw)
    if not tokens:
        raise InvalidClassNumber("no LCC class number given")
    return list(_parse_lcc_token(tokens[0]).path)


def _parse_lcc_token(raw: str) -> ClassNumber:
    text = _clean(raw).strip("[]")
    match = _LCC.fullmatch(text)
    if not match or match["letters"][0] not in LCC_CLASSES:
        raise InvalidClassNumber(
            f"{raw!r} is not an LCC class number: it must start with a class letter "
            f"({''.join(sorted(LCC_CLASSES))})"
        )
    if not _LCC_REST.fullmatch(match["rest"]):
        raise InvalidClassNumber(
            f"{raw!r} is not an LCC class number: cannot read {match['rest'].strip()!r}"
        )
    letters, number = match["letters"], match["number"] or ""
    path = [letters[:n] for n in range(1, len(letters) + 1)]
    if number:
        whole = number.split(".", 1)[0]
        path.append(letters + whole)
        if number != whole:
            path.append(letters + number)
    return _checked(Scheme.LCC, path[-1], path, raw)


# --- DDC -----------------------------------------------------------------------------------------

_DDC = re.compile(r"(?<![\d.])(\d{3})(?:\.(\d+))?(?!\d)")


def parse_ddc(raw: str) -> list[str]:
    """The path of a DDC number: "005.133" → ["0", "00", "005", "005.1", "005.13", "005.133"].

    The main class (000–099 → "0") and the division (000–009 → "00") are coded by their
    significant digits because the schedule prints both as "000"; see :func:`notation`. Prime
    marks ("005.13/3", "005.13'3") are removed and a trailing book number ("005.133 SMI") dropped.
    """
    tokens = split_class_numbers(Scheme.DDC, raw)
    if not tokens:
        raise InvalidClassNumber("no DDC number given")
    return list(_parse_ddc_token(tokens[0]).path)


def _parse_ddc_token(raw: str) -> ClassNumber:
    text = re.sub(r"[/']", "", _clean(raw))
    match = _DDC.search(text)
    if not match:
        raise InvalidClassNumber(f"{raw!r} is not a DDC number: it needs at least three digits")
    section, decimals = match[1], (match[2] or "").rstrip("0")
    path = [section[:1], section[:2], section]
    path += [f"{section}.{decimals[:n]}" for n in range(1, len(decimals) + 1)]
    return _checked(Scheme.DDC, path[-1], path, raw)


def notation(scheme: Scheme | str, code: str) -> str:
    """How the schedule prints ``code``: DDC main class "0" and division "05" as "000" and "050";
    every other code as it is."""
    if Scheme(scheme) is Scheme.DDC and len(code) < 3 and code.isdigit():
        return code.ljust(3, "0")
    return code


# --- Every scheme --------------------------------------------------------------------------------

_PARSERS = {
    Scheme.CLC: _parse_clc_token,
    Scheme.LCC: _parse_lcc_token,
    Scheme.DDC: _parse_ddc_token,
}
# Separators between several class numbers in one subfield. In CLC a space before a letter also
# starts a new class ("I247.5 I206"); in LCC and DDC it starts a cutter, which is not a class.
_SEPARATORS = {
    Scheme.CLC: re.compile(r"[;,|:]+|\s+(?=\[?[A-Z])"),
    Scheme.LCC: re.compile(r"[;|]+"),
    Scheme.DDC: re.compile(r"[;,|]+"),
}


def _checked(scheme: Scheme, code: str, path: list[str], raw: str) -> ClassNumber:
    if len(code) > MAX_CODE_LENGTH:
        raise InvalidClassNumber(
            f"{raw!r} is too long for a {scheme.name} class number "
            f"(at most {MAX_CODE_LENGTH} characters)"
        )
    return ClassNumber(scheme, code, tuple(path))


def split_class_numbers(scheme: Scheme | str, raw: str) -> list[str]:
    """The separate class numbers written in one subfield ("I247.5;I206" → two)."""
    text = _clean(raw)
    return [t.strip() for t in _SEPARATORS[Scheme(scheme)].split(text) if t and t.strip()]


def parse_class_number(scheme: Scheme | str, raw: str) -> ClassNumber:
    """The first class number in ``raw``, in normal form with its path."""
    tokens = split_class_numbers(scheme, raw)
    if not tokens:
        raise InvalidClassNumber(f"no {Scheme(scheme).name} class number given")
    return _PARSERS[Scheme(scheme)](tokens[0])


def parse_class_numbers(scheme: Scheme | str, raw: str) -> list[ClassNumber]:
    """Every class number in ``raw``; raises on the first one that is not valid."""
    return [_PARSERS[Scheme(scheme)](token) for token in split_class_numbers(scheme, raw)]


def top_class(scheme: Scheme | str, code: str) -> str:
    """The top class of ``code``: "T" for "TP311.13", "Q" for "QA76.73", "0" for "005.133"."""
    return parse_code(scheme, code).top


def known_ancestors(scheme: Scheme | str, code: str) -> list[ScheduleEntry]:
    """The rollup path: the classes of ``code``'s path that the schedule names, top first
    (including ``code`` itself when it is named)."""
    number = parse_code(scheme, code)
    found = (schedules.entry(number.scheme, step) for step in number.path)
    return [entry for entry in found if entry is not None]


def nearest_known(scheme: Scheme | str, code: str) -> ScheduleEntry | None:
    """The most specific named class that holds ``code`` (every top class is named, so this is
    None only for a schedule that has not been written yet)."""
    ancestors = known_ancestors(scheme, code)
    return ancestors[-1] if ancestors else None


def rollup(scheme: Scheme | str, code: str) -> ScheduleEntry | None:
    """The named top class of ``code``, for interest profiles by top class."""
    number = parse_code(scheme, code)
    return schedules.entry(number.scheme, number.top)


def parse_code(scheme: Scheme | str, code: str) -> ClassNumber:
    """Like :func:`parse_class_number`, but also accepts the short codes of DDC main classes
    and divisions ("0", "05") that only libcrm's own queries use, never a catalogue record."""
    scheme = Scheme(scheme)
    text = _clean(code)
    if scheme is Scheme.DDC and text.isdigit() and len(text) < 3:
        return ClassNumber(scheme, text, tuple(text[:n] for n in range(1, len(text) + 1)))
    return parse_class_number(scheme, text)


def schedule_parent(scheme: Scheme | str, code: str) -> str | None:
    """The nearest named ancestor of ``code``: its parent in the stored hierarchy."""
    number = parse_code(scheme, code)
    named = [step for step in number.path[:-1] if schedules.entry(number.scheme, step)]
    return named[-1] if named else None
