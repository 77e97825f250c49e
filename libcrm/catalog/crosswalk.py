"""The crosswalk from a MARC record (pymarc) to a catalogue item: which fields of MARC 21 and of
UNIMARC/CNMARC hold the title, authors, ISBN, language, year, publisher, material type,
classification and subjects. Pure: takes a decoded record, returns an :class:`ItemRecord`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pymarc import Field, Record
from pymarc.exceptions import MissingLinkedFields

from libcrm.catalog import isbn as standard_numbers
from libcrm.catalog.classification import (
    ClassNumber,
    Scheme,
    parse_class_number,
    split_class_numbers,
)
from libcrm.catalog.errors import InvalidClassNumber, RecordRejected

MAX_CONTROL_NUMBER = 64


class RecordFormat(StrEnum):
    """UNIMARC here includes CNMARC (中国机读目录格式), its Chinese national profile."""

    MARC21 = "marc21"
    UNIMARC = "unimarc"


class Material(StrEnum):
    """The kind of resource, for the multimodal resources (多模态资源) of text, image, audio and
    video that readers use alongside each other."""

    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    E_RESOURCE = "e_resource"
    MAP = "map"
    SCORE = "score"
    MIXED = "mixed"


@dataclass(frozen=True)
class ItemRecord:
    """What libcrm keeps of one bibliographic record; ``class_numbers`` are in order of
    preference (CLC, then LCC, then DDC), so the first is the item's classification."""

    control_number: str
    record_format: RecordFormat
    title: str
    subtitle: str = ""
    authors: tuple[str, ...] = ()
    isbns: tuple[str, ...] = ()
    issn: str = ""
    language: str = ""
    publication_year: int | None = None
    publisher: str = ""
    material_type: Material = Material.TEXT
    class_numbers: tuple[ClassNumber, ...] = ()
    subjects: tuple[str, ...] = ()

    @property
    def classification(self) -> ClassNumber | None:
        return self.class_numbers[0] if self.class_numbers else None


#: (field, reason) of something left out of an item that was otherwise imported.
Omission = tuple[str, str]


def detect_format(tags: Iterable[str]) -> RecordFormat | None:
    """MARC 21 or UNIMARC, told apart by where the title is (245 against 200), then by fields
    only one of them has (008 against 100/101/010/690). None if the record gives no sign."""
    present = set(tags)
    if "245" in present:
        return RecordFormat.MARC21
    if "200" in present:
        return RecordFormat.UNIMARC
    if "008" in present or present & {"020", "050", "082", "260", "264"}:
        return RecordFormat.MARC21
    if present & {"010", "101", "210", "690"}:
        return RecordFormat.UNIMARC
    return None


# --- Text ----------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # includes the non-sort marks NSB/NSE (\x88/\x89)
_TRAILING = re.compile(r"(?:\s*[/:;=,]\s*|(?<![\s.][A-Z])(?<!^[A-Z])\.)+$")


def clean_text(value: str | None) -> str:
    """A subfield's text without control characters, doubled spaces and the ISBD punctuation
    that MARC leaves at the end of a subfield ("三体 /", "Matthes, Eric,")."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", value or ""))
    text = re.sub(r"\s+", " ", text).strip()
    text = _TRAILING.sub("", text).strip()
    return re.sub(r"^[\s/:;=,.]+", "", text)


def _has_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


# --- Shared pieces -------------------------------------------------------------------------------


def _control_number(record: Record, fallbacks: list[tuple[str, str]]) -> str:
    number = ""
    if record.get("001") is not None:
        number = clean_text(record["001"].data)
    for tag, code in fallbacks:
        if number:
            break
        for field in record.get_fields(tag):
            number = clean_text(field.get(code) or "")
            if number:
                break
    if not number:
        raise RecordRejected(
            "001",
            "control number (field 001) is missing, so the record could not be matched "
            "when the file is imported again",
        )
    if len(number) > MAX_CONTROL_NUMBER:
        raise RecordRejected(
            "001", f"control number (field 001) is longer than {MAX_CONTROL_NUMBER} characters"
        )
    return number


def _class_numbers(
    record: Record, sources: list[tuple[Scheme, str, str | None]], warnings: list[Omission]
) -> tuple[ClassNumber, ...]:
    """Class numbers from (scheme, tag, required $2 prefix) sources, in that order."""
    found: dict[tuple[Scheme, str], ClassNumber] = {}
    for scheme, tag, source_code in sources:
        for field in record.get_fields(tag):
            if source_code and not (field.get("2") or "").strip().lower().startswith(source_code):
                continue
            for value in field.get_subfields("a"):
                for token in split_class_numbers(scheme, value):
                    try:
                        number = parse_class_number(scheme, token)
                    except InvalidClassNumber as exc:
                        warnings.append((tag, f"field {tag} $a: {exc}; left out"))
                        continue
                    found.setdefault((number.scheme, number.code), number)
    return tuple(found.values())


def _isbns(record: Record, tag: str, warnings: list[Omission]) -> tuple[str, ...]:
    isbns = []
    for field in record.get_fields(tag):
        for value in field.get_subfields("a"):
            isbn = standard_numbers.normalise_isbn(value)
            if isbn is None:
                warnings.append(
                    (tag, f"field {tag} $a: {value.strip()!r} is not a valid ISBN; left out")
                )
            else:
                isbns.append(isbn)
    return _unique(isbns)


def _issn(record: Record, tag: str, warnings: list[Omission]) -> str:
    for field in record.get_fields(tag):
        for value in field.get_subfields("a"):
            issn = standard_numbers.normalise_issn(value)
            if issn:
                return issn
            warnings.append(
                (tag, f"field {tag} $a: {value.strip()!r} is not a valid ISSN; left out")
            )
    return ""


def _language(*candidates: str | None) -> str:
    for candidate in candidates:
        code = (candidate or "").strip().lower()[:3]
        if re.fullmatch(r"[a-z]{3}", code) and code not in {"zxx", "mul"}:
            return code
    return ""


def _year(*candidates: str | None) -> int | None:
    for candidate in candidates:
        match = re.search(r"(?<!\d)(1\d{3}|20\d\d)(?!\d)", candidate or "")
        if match:
            return int(match[1])
    return None


def _headings(record: Record, tags: list[str], codes: str, vernacular: bool) -> tuple[str, ...]:
    headings = []
    for field in record.get_fields(*tags):
        source = _vernacular(record, field) if vernacular else field
        parts = [clean_text(v) for v in source.get_subfields(*codes)]
        headings.append(" -- ".join(p for p in parts if p))
    return _unique(headings)


def _vernacular(record: Record, field: Field) -> Field:
    """The 880 field in the original script (汉字) linked to a romanised MARC 21 field, if any."""
    if field.get("6") is None:
        return field
    try:
        linked = record.get_linked_fields(field)
    except MissingLinkedFields:
        return field
    return linked[0] if linked else field


# --- MARC 21 -------------------------------------------------------------------------------------

_MARC21_TYPES = {
    "a": Material.TEXT, "t": Material.TEXT, "c": Material.SCORE, "d": Material.SCORE,
    "e": Material.MAP, "f": Material.MAP, "g": Material.VIDEO, "i": Material.AUDIO,
    "j": Material.AUDIO, "k": Material.IMAGE, "m": Material.E_RESOURCE, "o": Material.MIXED,
    "p": Material.MIXED, "r": Material.MIXED,
}  # fmt: skip
# RDA content types (field 336 $b codes and $a terms).
_CONTENT_TYPES = {
    "txt": Material.TEXT, "text": Material.TEXT, "tct": Material.TEXT,
    "sti": Material.IMAGE, "still image": Material.IMAGE, "tci": Material.IMAGE,
    "cri": Material.MAP, "cartographic image": Material.MAP, "crd": Material.MAP,
    "ntm": Material.SCORE, "notated music": Material.SCORE,
    "prm": Material.AUDIO, "performed music": Material.AUDIO, "snd": Material.AUDIO,
    "sounds": Material.AUDIO, "spw": Material.AUDIO, "spoken word": Material.AUDIO,
    "tdi": Material.VIDEO, "two-dimensional moving image": Material.VIDEO, "tdm": Material.VIDEO,
    "cod": Material.E_RESOURCE, "computer dataset": Material.E_RESOURCE,
    "cop": Material.E_RESOURCE, "computer program": Material.E_RESOURCE,
    "tdf": Material.MIXED, "three-dimensional form": Material.MIXED,
}  # fmt: skip


def _content_types(record: Record) -> list[Material]:
    kinds = []
    for field in record.get_fields("336"):
        for value in field.get_subfields("b", "a"):
            kind = _CONTENT_TYPES.get(value.strip().lower())
            if kind is not None:
                kinds.append(kind)
                break
    return kinds


def _marc21_material(record: Record, warnings: list[Omission]) -> Material:
    """Leader/06 (type of record), refined by 007/00 (category of material), 008/23 (form of
    item) and, for kits and mixed materials, the RDA content types of 336."""
    kind = record.leader[6]
    physical = record["007"].data[:1] if record.get("007") is not None else ""
    fixed = record["008"].data if record.get("008") is not None else ""
    if kind in "at" and (physical == "c" or fixed[23:24] in ("o", "q", "s")):
        return Material.E_RESOURCE
    if kind == "g" and physical == "g":  # slides and filmstrips are projected still images
        return Material.IMAGE
    if kind in "op" or kind not in _MARC21_TYPES:
        content = set(_content_types(record))
        if len(content) == 1:
            return content.pop()
        if kind not in _MARC21_TYPES:
            if content:
                return Material.MIXED
            warnings.append(
                ("leader", f"leader/06 type of record {kind!r} is unknown; kept as text")
            )
            return Material.TEXT
    return _MARC21_TYPES[kind]


def marc21_item(record: Record) -> tuple[ItemRecord, list[Omission]]:
    warnings: list[Omission] = []
    control_number = _control_number(record, [("999", "c")])  # Koha keeps its biblionumber in 999
    title_field = record.get("245")
    if title_field is None:
        raise RecordRejected("245", "title (field 245) is missing")
    title_field = _vernacular(record, title_field)
    title = ". ".join(
        clean_text(v) for v in title_field.get_subfields("a", "n", "p") if clean_text(v)
    )
    if not title:
        raise RecordRejected("245", "title (field 245 $a) is empty")
    fixed = record["008"].data if record.get("008") is not None else ""
    publication = [f for f in record.get_fields("264") if f.indicator2 == "1"] or record.get_fields(
        "260", "264"
    )
    publication = [_vernacular(record, f) for f in publication]
    authors = [
        clean_text(_vernacular(record, f).get("a"))
        for f in record.get_fields("100", "110", "111", "700", "710", "711")
    ]
    item = ItemRecord(
        control_number=control_number,
        record_format=RecordFormat.MARC21,
        title=title,
        subtitle=clean_text(title_field.get("b")),
        authors=_unique(authors),
        isbns=_isbns(record, "020", warnings),
        issn=_issn(record, "022", warnings),
        language=_language(
            fixed[35:38], *(v for f in record.get_fields("041") for v in f.get_subfields("a"))
        ),
        publication_year=_year(
            fixed[7:11] if fixed[7:11].isdigit() else "",
            *(v for f in publication for v in f.get_subfields("c")),
        ),
        publisher=next(
            (clean_text(v) for f in publication for v in f.get_subfields("b") if clean_text(v)),
            "",
        ),
        material_type=_marc21_material(record, warnings),
        class_numbers=_class_numbers(
            record,
            [
                (Scheme.CLC, "084", "clc"),
                (Scheme.CLC, "093", None),  # Chinese MARC 21 practice (CALIS)
                (Scheme.LCC, "050", None),
                (Scheme.LCC, "090", None),  # local LC call number
                (Scheme.DDC, "082", None),
                (Scheme.DDC, "092", None),  # local Dewey call number
            ],
            warnings,
        ),
        subjects=_headings(
            record, ["600", "610", "611", "630", "648", "650", "651"], "abvxyz", vernacular=True
        ),
    )
    return item, warnings


# --- UNIMARC / CNMARC ----------------------------------------------------------------------------

_UNIMARC_TYPES = {
    "a": Material.TEXT, "b": Material.TEXT, "c": Material.SCORE, "d": Material.SCORE,
    "e": Material.MAP, "f": Material.MAP, "g": Material.VIDEO, "i": Material.AUDIO,
    "j": Material.AUDIO, "k": Material.IMAGE, "l": Material.E_RESOURCE, "m": Material.MIXED,
    "r": Material.MIXED,
}  # fmt: skip


def _unimarc_name(field: Field) -> str:
    surname, forename = clean_text(field.get("a")), clean_text(field.get("b"))
    if not forename:
        return surname
    # 刘 + 慈欣 is written without a separator; "Liu" + "Cixin" as "Liu, Cixin".
    return surname + forename if _has_cjk(surname + forename) else f"{surname}, {forename}"


def unimarc_item(record: Record) -> tuple[ItemRecord, list[Omission]]:
    warnings: list[Omission] = []
    control_number = _control_number(record, [("090", "a")])  # Koha's biblionumber in UNIMARC
    title_field = record.get("200")
    if title_field is None:
        raise RecordRejected("200", "title (field 200) is missing")
    titles = [clean_text(v) for v in title_field.get_subfields("a")]
    title = " ; ".join(t for t in titles if t)
    parts = [clean_text(v) for v in title_field.get_subfields("h", "i")]
    title = ". ".join([title, *(p for p in parts if p)]) if title else ""
    if not title:
        raise RecordRejected("200", "title (field 200 $a) is empty")
    general = (record["100"].get("a") or "") if record.get("100") is not None else ""
    publication = record.get_fields("210", "214")
    kind = record.leader[6]
    if kind in _UNIMARC_TYPES:
        material = _UNIMARC_TYPES[kind]
    else:
        warnings.append(("leader", f"leader/06 type of record {kind!r} is unknown; kept as text"))
        material = Material.TEXT
    item = ItemRecord(
        control_number=control_number,
        record_format=RecordFormat.UNIMARC,
        title=title,
        subtitle=clean_text(title_field.get("e")),
        authors=_unique(
            _unimarc_name(f) for f in record.get_fields("700", "701", "702", "710", "711", "712")
        ),
        isbns=_isbns(record, "010", warnings),
        issn=_issn(record, "011", warnings),
        language=_language(*(v for f in record.get_fields("101") for v in f.get_subfields("a"))),
        publication_year=_year(
            general[9:13] if general[9:13].isdigit() else "",
            *(v for f in publication for v in f.get_subfields("d")),
        ),
        publisher=next(
            (clean_text(v) for f in publication for v in f.get_subfields("c") if clean_text(v)),
            "",
        ),
        material_type=material,
        class_numbers=_class_numbers(
            record,
            [
                (Scheme.CLC, "690", None),
                (Scheme.CLC, "686", "clc"),
                (Scheme.LCC, "680", None),
                (Scheme.DDC, "676", None),
            ],
            warnings,
        ),
        subjects=_headings(
            record,
            ["600", "601", "602", "604", "605", "606", "607", "610"],
            "axyzj",
            vernacular=False,
        ),
    )
    return item, warnings


def item_from_record(
    record: Record, record_format: RecordFormat
) -> tuple[ItemRecord, list[Omission]]:
    """The item of a decoded record; raises :class:`RecordRejected` if it has no control number
    or no title, the two things an item cannot do without."""
    if record_format is RecordFormat.UNIMARC:
        return unimarc_item(record)
    return marc21_item(record)
