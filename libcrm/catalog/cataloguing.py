"""Writing catalogue items as MARC 21 records — the crosswalk run backwards — so that the synthetic
library world, demos and tests produce the same kind of files a real ILS exports, and whatever
libcrm writes it reads back unchanged (UTF-8, CLC in 084 $2 clc as Chinese libraries do)."""

from __future__ import annotations

from pymarc import Field, Indicators, Leader, Record, Subfield

from libcrm.catalog.classification import Scheme
from libcrm.catalog.crosswalk import ItemRecord, Material

# Leader/06 type of record and, where the type alone is ambiguous, 007 and 008/23.
_TYPE_OF_RECORD = {
    Material.TEXT: "a",
    Material.IMAGE: "k",
    Material.AUDIO: "i",
    Material.VIDEO: "g",
    Material.E_RESOURCE: "a",
    Material.MAP: "e",
    Material.SCORE: "c",
    Material.MIXED: "p",
}
_PHYSICAL = {Material.VIDEO: "vd cvaizq", Material.E_RESOURCE: "cr |n|||||||||"}
_CLASS_FIELDS = {Scheme.CLC: "084", Scheme.LCC: "050", Scheme.DDC: "082"}


def _field(tag: str, indicators: str, *pairs: tuple[str, str]) -> Field:
    return Field(
        tag=tag,
        indicators=Indicators(indicators[0], indicators[1]),
        subfields=[Subfield(code, value) for code, value in pairs if value],
    )


def marc21_record(item: ItemRecord) -> Record:
    """A MARC 21 bibliographic record of ``item``; ``record.as_marc()`` gives ISO 2709 bytes and
    :func:`pymarc.marcxml.record_to_xml` MARCXML."""
    record = Record(force_utf8=True)
    record.leader = Leader(f"00000n{_TYPE_OF_RECORD[item.material_type]}m a2200000 i 4500")
    record.add_field(Field(tag="001", data=item.control_number))
    if item.material_type in _PHYSICAL:
        record.add_field(Field(tag="007", data=_PHYSICAL[item.material_type]))
    year = f"{item.publication_year:04d}" if item.publication_year else "    "
    form = "o" if item.material_type is Material.E_RESOURCE else " "
    language = item.language or "   "
    record.add_field(Field(tag="008", data=f"000000s{year}    xx {'':5}{form}{'':11}{language} d"))
    for isbn in item.isbns:
        record.add_field(_field("020", "  ", ("a", isbn)))
    if item.issn:
        record.add_field(_field("022", "  ", ("a", item.issn)))
    for number in item.class_numbers:
        source = ("2", "clc") if number.scheme is Scheme.CLC else ("2", "")
        record.add_field(_field(_CLASS_FIELDS[number.scheme], "  ", ("a", number.code), source))
    if item.authors:
        record.add_field(_field("100", "1 ", ("a", item.authors[0])))
    record.add_field(_field("245", "00", ("a", item.title), ("b", item.subtitle)))
    if item.publisher or item.publication_year:
        record.add_field(_field("264", " 1", ("b", item.publisher), ("c", year.strip())))
    for heading in item.subjects:
        first, *rest = heading.split(" -- ")
        record.add_field(_field("650", " 4", ("a", first), *(("x", part) for part in rest)))
    for author in item.authors[1:]:
        record.add_field(_field("700", "1 ", ("a", author)))
    return record
