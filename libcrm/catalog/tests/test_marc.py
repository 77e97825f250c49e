"""Reading MARC files record by record: formats, encodings, and precise reports of broken
records that never stop the good ones. No database."""

from __future__ import annotations

import io

import pytest
from pymarc import Field, Indicators, Leader, Record, Subfield

from libcrm.catalog.cataloguing import marc21_record
from libcrm.catalog.classification import parse_class_number
from libcrm.catalog.crosswalk import ItemRecord, Material, RecordFormat
from libcrm.catalog.errors import CatalogError, RecordProblem
from libcrm.catalog.marc import MAX_RECORD_LENGTH, ReadRecord, read_marc
from libcrm.catalog.tests import samples


def read(data: bytes, **options: str) -> list[ReadRecord | RecordProblem]:
    return list(read_marc(io.BytesIO(data), file_name="test.mrc", **options))


def items(data: bytes, **options: str) -> list[ReadRecord]:
    outcomes = read(data, **options)
    assert all(isinstance(o, ReadRecord) for o in outcomes), outcomes
    return [o for o in outcomes if isinstance(o, ReadRecord)]


def problems(data: bytes, **options: str) -> list[RecordProblem]:
    return [o for o in read(data, **options) if isinstance(o, RecordProblem)]


def by_control_number(records: list[ReadRecord]) -> dict[str, ReadRecord]:
    return {r.item.control_number: r for r in records}


# --- Good records ------------------------------------------------------------------------------


@pytest.mark.parametrize("container", ["iso2709", "marcxml"])
def test_every_sample_record_becomes_an_item(container: str) -> None:
    records = samples.good_records()
    data = samples.iso2709(records) if container == "iso2709" else samples.marcxml(records)
    found = by_control_number(items(data))
    assert len(found) == 7

    santi = found["CN000001"].item
    assert santi.record_format is RecordFormat.MARC21
    assert (santi.title, santi.authors, santi.publisher) == ("三体", ("刘慈欣",), "重庆出版社")
    assert (santi.isbns, santi.language, santi.publication_year) == (
        (samples.SANTI_ISBN,),
        "chi",
        2008,
    )
    assert santi.classification is not None
    assert (santi.classification.scheme, santi.classification.code) == ("clc", "I247.55")
    assert santi.subjects == ("科学幻想小说 -- 当代 -- 中国",)
    assert santi.material_type is Material.TEXT

    deep = found["CN000002"].item
    assert (deep.title, deep.subtitle) == ("深度学习", "Deep learning")
    assert deep.classification is not None and deep.classification.code == "TP181"  # from 093
    assert deep.authors == ("Goodfellow, Ian", "Bengio, Yoshua", "Courville, Aaron")
    assert deep.publication_year == 2017

    python = found["US000003"].item
    assert python.title == "Python crash course"
    assert python.subtitle == "a hands-on, project-based introduction to programming"
    assert python.isbns == ("9781593276034",)  # the ISBN-10 of the record, as ISBN-13
    assert [(n.scheme.value, n.code) for n in python.class_numbers] == [
        ("lcc", "QA76.73"),
        ("ddc", "005.133"),
    ]
    assert python.language == "eng" and python.publisher == "No Starch Press"

    assert found["CN000004"].item.material_type is Material.VIDEO
    assert found["CN000005"].item.material_type is Material.AUDIO
    assert found["CN000006"].item.material_type is Material.IMAGE

    unimarc = found["012008000123"].item
    assert unimarc.record_format is RecordFormat.UNIMARC
    assert (unimarc.title, unimarc.authors) == ("三体. Ⅱ. 黑暗森林", ("刘慈欣",))
    assert unimarc.isbns == ("9787536693968",)
    assert (unimarc.language, unimarc.publication_year, unimarc.publisher) == (
        "chi",
        2008,
        "重庆出版社",
    )
    assert unimarc.classification is not None and unimarc.classification.code == "I247.55"
    assert unimarc.subjects == ("科学幻想小说 -- 长篇小说 -- 中国 -- 当代",)


def test_record_numbers_and_byte_offsets() -> None:
    records = samples.good_records()[:3]
    lengths = [len(r.as_marc()) for r in records]
    found = items(samples.iso2709(records))
    assert [(r.number, r.offset) for r in found] == [
        (1, 0),
        (2, lengths[0]),
        (3, lengths[0] + lengths[1]),
    ]


def test_line_breaks_between_records_are_skipped_and_offsets_stay_exact() -> None:
    first, second = samples.santi().as_marc(), samples.deep_learning().as_marc()
    found = items(first + b"\r\n" + second + b"\n\x1a")
    assert [(r.number, r.offset, r.item.title) for r in found] == [
        (1, 0, "三体"),
        (2, len(first) + 2, "深度学习"),
    ]


def test_empty_file_has_no_records() -> None:
    assert read(b"") == []
    assert read(b"\n\n") == []


def test_unimarc_record_read_as_marc21_is_rejected_for_its_missing_title() -> None:
    data = samples.iso2709([samples.unimarc_santi_2()])
    (problem,) = problems(data, format="marc21")
    assert problem.field == "245" and "title (field 245) is missing" in problem.reason
    assert items(data, format="unimarc")[0].item.title == "三体. Ⅱ. 黑暗森林"


def test_a_record_with_no_title_field_at_all_cannot_be_told_apart() -> None:
    record = samples.marc21("a", Field(tag="001", data="X1"))
    (problem,) = problems(record.as_marc())
    assert "cannot tell MARC 21 from UNIMARC" in problem.reason


def test_unknown_options_are_refused() -> None:
    with pytest.raises(CatalogError, match="format must be one of"):
        read(b"", format="marc22")
    with pytest.raises(CatalogError, match="encoding must be one of"):
        read(b"", encoding="latin-9")


# --- Fields ------------------------------------------------------------------------------------


def test_clc_is_preferred_over_lcc_and_ddc_and_084_needs_source_clc() -> None:
    record = samples.python_crash_course()
    record.add_field(
        Field("084", Indicators(" ", " "), [Subfield("a", "TP312"), Subfield("2", "clc")]),
        Field("084", Indicators(" ", " "), [Subfield("a", "54.53"), Subfield("2", "rvk")]),
    )
    (found,) = items(record.as_marc())
    schemes = [(n.scheme.value, n.code) for n in found.item.class_numbers]
    # CLC first although the record lists it last; the RVK number of the other 084 is skipped.
    assert schemes == [("clc", "TP312"), ("lcc", "QA76.73"), ("ddc", "005.133")]


def test_invalid_class_numbers_and_isbns_are_left_out_with_a_warning() -> None:
    record = samples.santi()
    record.add_field(
        Field("020", Indicators(" ", " "), [Subfield("a", "9787536692931")]),
        Field("084", Indicators(" ", " "), [Subfield("a", "L999"), Subfield("2", "clc")]),
    )
    (found,) = items(record.as_marc())
    assert found.item.isbns == (samples.SANTI_ISBN,)
    assert [n.code for n in found.item.class_numbers] == ["I247.55"]
    reasons = {(w.field, w.reason) for w in found.warnings}
    assert ("020", "field 020 $a: '9787536692931' is not a valid ISBN; left out") in reasons
    assert any(field == "084" and "'L999' is not a CLC class number" in r for field, r in reasons)
    assert all((w.record, w.offset) == (1, 0) for w in found.warnings)


def test_several_clc_numbers_in_one_subfield_are_all_kept() -> None:
    record = samples.santi()
    record.remove_fields("084")
    record.add_field(Field("084", Indicators(" ", " "), [Subfield("a", "I247.5;I206"),
                                                          Subfield("2", "clc")]))  # fmt: skip
    (found,) = items(record.as_marc())
    assert [n.code for n in found.item.class_numbers] == ["I247.5", "I206"]


def test_romanised_fields_give_way_to_the_linked_880_in_chinese() -> None:
    record = samples.marc21(
        "a",
        Field(tag="001", data="OCLC1"),
        Field("245", Indicators("1", "0"), [Subfield("6", "880-01"), Subfield("a", "San ti /")]),
        Field("100", Indicators("1", " "), [Subfield("6", "880-02"), Subfield("a", "Liu, Cixin,")]),
        Field("880", Indicators("1", "0"), [Subfield("6", "245-01"), Subfield("a", "三体 /")]),
        Field("880", Indicators("1", " "), [Subfield("6", "100-02"), Subfield("a", "刘慈欣,")]),
    )
    (found,) = items(record.as_marc())
    assert (found.item.title, found.item.authors) == ("三体", ("刘慈欣",))


def test_missing_control_number_is_rejected_unless_koha_kept_it_in_999() -> None:
    record = samples.santi()
    record.remove_fields("001")
    (problem,) = problems(record.as_marc())
    assert problem.field == "001"
    assert "control number (field 001) is missing" in problem.reason
    record.add_field(Field("999", Indicators(" ", " "), [Subfield("c", "4242")]))
    assert items(record.as_marc())[0].item.control_number == "4242"


@pytest.mark.parametrize(
    ("type_of_record", "extra", "material"),
    [
        ("a", [Field(tag="007", data="cr |n|||||||||")], Material.E_RESOURCE),
        ("a", [samples.fixed_008("2020", "chi", form="o")], Material.E_RESOURCE),
        ("m", [], Material.E_RESOURCE),
        ("e", [], Material.MAP),
        ("c", [], Material.SCORE),
        ("i", [], Material.AUDIO),
        ("g", [Field(tag="007", data="gs cjn")], Material.IMAGE),  # slides
        ("o", [], Material.MIXED),
        (
            "p",
            [
                Field(
                    "336",
                    Indicators(" ", " "),
                    [Subfield("a", "spoken word"), Subfield("b", "spw")],
                )
            ],
            Material.AUDIO,
        ),
    ],
)
def test_material_type_from_leader_007_008_and_336(
    type_of_record: str, extra: list[Field], material: Material
) -> None:
    record = samples.marc21(
        type_of_record,
        Field(tag="001", data="M1"),
        Field("245", Indicators("0", "0"), [Subfield("a", "Something")]),
        *extra,
    )
    (found,) = items(record.as_marc())
    assert found.item.material_type is material


def test_unimarc_types_of_record_differ_from_marc21() -> None:
    record = samples.unimarc_santi_2()
    record.leader = Leader("00000nlm0 2200000   450 ")  # "l": electronic resource in UNIMARC
    assert items(record.as_marc())[0].item.material_type is Material.E_RESOURCE
    record.leader = Leader("00000nmm0 2200000   450 ")  # "m": multimedia in UNIMARC
    assert items(record.as_marc())[0].item.material_type is Material.MIXED


# --- Encodings ---------------------------------------------------------------------------------


def test_marc8_records_are_decoded() -> None:
    (found,) = items(samples.marc8_record().as_marc())
    assert found.item.title == "Café 三体"
    assert found.item.language == "fre"


def test_utf8_is_read_even_when_leader_09_is_blank() -> None:
    data = bytearray(samples.santi().as_marc())
    data[9] = ord(" ")  # many Chinese systems write UTF-8 and leave leader/09 blank
    (found,) = items(bytes(data))
    assert found.item.title == "三体"


@pytest.mark.parametrize("leader_says_utf8", [False, True])
def test_gbk_is_detected_and_refused_unless_asked_for(leader_says_utf8: bool) -> None:
    data = samples.gbk_bytes(samples.santi(), leader_says_utf8)
    (problem,) = problems(data)
    assert "looks like GBK/GB18030" in problem.reason
    assert "import them with encoding gb18030" in problem.reason
    (found,) = items(data, encoding="gb18030")
    assert (found.item.title, found.item.publisher) == ("三体", "重庆出版社")


def test_invalid_utf8_in_unimarc_names_the_field() -> None:
    data = samples.unimarc_santi_2().as_marc().replace("黑暗森林".encode(), b"\xff\xfe" * 6)
    (problem,) = problems(data)
    assert problem.field == "200"
    assert "field 200 is not valid UTF-8 (byte 0xFF" in problem.reason


# --- Broken ISO 2709 ---------------------------------------------------------------------------


def test_broken_leader_and_truncated_last_record_are_reported_and_the_rest_read() -> None:
    good = [samples.santi(), samples.deep_learning(), samples.python_crash_course()]
    last = samples.unimarc_santi_2().as_marc()
    data = (
        good[0].as_marc()
        + samples.broken_leader(good[1])
        + good[2].as_marc()
        + samples.erhu_audio().as_marc()
        + last[:100]
    )
    outcomes = read(data)
    offsets = [0, len(good[0].as_marc())]
    offsets.append(offsets[1] + len(good[1].as_marc()))
    offsets.append(offsets[2] + len(good[2].as_marc()))
    offsets.append(offsets[3] + len(samples.erhu_audio().as_marc()))
    kinds = [
        (type(o).__name__, o.number if isinstance(o, ReadRecord) else o.record) for o in outcomes
    ]
    assert kinds == [
        ("ReadRecord", 1),
        ("RecordProblem", 2),
        ("ReadRecord", 3),
        ("ReadRecord", 4),
        ("RecordProblem", 5),
    ]
    broken, truncated = (o for o in outcomes if isinstance(o, RecordProblem))
    assert str(broken) == (
        f"record 2 (offset {offsets[1]}): leader is broken: record length 'abcde' is not a number"
    )
    assert broken.field == "leader"
    assert str(truncated) == (
        f"record 5 (offset {offsets[4]}): record is truncated: the file ends 100 bytes into a "
        f"record whose leader announces {len(last)} bytes"
    )
    assert truncated.as_row() == ["test.mrc", "5", str(offsets[4]), "record", truncated.reason]


def _replace(data: bytes, start: int, new: bytes) -> bytes:
    return data[:start] + new + data[start + len(new) :]


@pytest.mark.parametrize(
    ("damage", "field", "reason"),
    [
        (lambda d: _replace(d, 0, b"00999"), "leader",
         "record length says 999 bytes but the record ends after"),
        (lambda d: _replace(d, 12, b"0x0y0"), "leader", "base address of data '0x0y0'"),
        (lambda d: _replace(d, 12, b"00030"), "directory", "base address 30 does not follow it"),
        (lambda d: _replace(d, 28, b"x"), "directory", "is not tag+length+position"),
        (lambda d: _replace(d, 27, b"9999"), "001", "field 001 lies outside the record"),
        (lambda d: _replace(d, 27, b"0005"), "001", "field 001 is broken: it does not end"),
        (lambda d: _replace(d, 0, "三".encode()), "leader", "is not a number"),
    ],
)  # fmt: skip
def test_structural_damage_is_named_precisely(damage, field: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    good = samples.deep_learning().as_marc()
    data = good + damage(samples.santi().as_marc()) + good
    outcomes = read(data)
    assert [type(o).__name__ for o in outcomes] == ["ReadRecord", "RecordProblem", "ReadRecord"]
    problem = outcomes[1]
    assert isinstance(problem, RecordProblem)
    assert (problem.record, problem.offset, problem.field) == (2, len(good), field)
    assert reason in problem.reason


def test_a_file_that_is_not_marc_gives_one_problem() -> None:
    (problem,) = read(b"name,card\nLi Na,TC0001\n")
    assert isinstance(problem, RecordProblem)
    assert problem.reason == "leader is broken: record length 'name,' is not a number"


def test_garbage_longer_than_any_record_is_skipped_to_the_next_record() -> None:
    garbage = b"x" * (MAX_RECORD_LENGTH + 70_000)
    good = samples.santi().as_marc()
    outcomes = read(good + garbage + b"\x1d" + good)
    assert [type(o).__name__ for o in outcomes] == ["ReadRecord", "RecordProblem", "ReadRecord"]
    assert "no end-of-record mark within 99,999 bytes" in outcomes[1].reason  # type: ignore[union-attr]
    assert (outcomes[1].record, outcomes[1].offset) == (2, len(good))  # type: ignore[union-attr]


# --- MARCXML -----------------------------------------------------------------------------------


def _xml_with(records_xml: bytes) -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<collection>\n' + records_xml + b"</collection>\n"
    )


def test_a_broken_xml_record_is_rejected_alone_with_its_offset_and_line() -> None:
    good = samples.marcxml([samples.santi()]).split(b"<collection", 1)[1].split(b">", 1)[1]
    good = good.rsplit(b"</collection>", 1)[0].strip() + b"\n"
    no_tag = (
        b"<record><leader>00000nam a2200000 i 4500</leader>"
        b'<datafield ind1=" " ind2=" "><subfield code="a">x</subfield></datafield></record>\n'
    )
    short_leader = b"<record><leader>00000nam</leader></record>\n"
    no_leader = b'<record><controlfield tag="001">X</controlfield></record>\n'
    data = _xml_with(good + no_tag + short_leader + no_leader + good)
    outcomes = read(data)
    assert [type(o).__name__ for o in outcomes] == [
        "ReadRecord", "RecordProblem", "RecordProblem", "RecordProblem", "ReadRecord",
    ]  # fmt: skip
    second = outcomes[1]
    assert isinstance(second, RecordProblem)
    assert second.reason == "a datafield has tag '', which is not a MARC tag"
    assert (second.record, second.line) == (2, 4)
    assert data[second.offset : second.offset + 7] == b"<record"  # type: ignore[index]
    assert outcomes[2].reason == "leader is broken: it has 8 characters, not 24"  # type: ignore[union-attr]
    assert outcomes[3].reason == "leader is missing"  # type: ignore[union-attr]


def test_malformed_xml_keeps_the_records_before_it() -> None:
    data = samples.marcxml([samples.santi(), samples.deep_learning()])
    cut = data.index(b"<record", data.index(b"<record") + 1)
    damaged = data[:cut] + b"<record><leader>oops</record>" + data[cut:]
    outcomes = read(damaged)
    assert isinstance(outcomes[0], ReadRecord) and outcomes[0].item.title == "三体"
    assert isinstance(outcomes[1], RecordProblem)
    assert outcomes[1].record == 2
    assert "the XML breaks off at line" in outcomes[1].reason
    assert "mismatched tag" in outcomes[1].reason


def test_truncated_xml_reports_the_record_it_cut() -> None:
    data = samples.marcxml([samples.santi(), samples.deep_learning()])
    outcomes = read(data[: len(data) - 300])
    assert isinstance(outcomes[0], ReadRecord)
    assert isinstance(outcomes[1], RecordProblem) and outcomes[1].record == 2
    assert outcomes[1].reason.startswith("record is cut short")


def test_xml_with_a_dtd_is_refused() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE collection [<!ENTITY a "aaaa">]>'
        b"<collection><record><leader>&a;</leader></record></collection>"
    )
    (problem,) = read(data)
    assert isinstance(problem, RecordProblem) and problem.record is None
    assert problem.field == "file" and "declares a DTD" in problem.reason


def test_marcxchange_unimarc_is_read() -> None:
    record = samples.unimarc_santi_2()
    body = samples.marcxml([record]).replace(
        b'xmlns="http://www.loc.gov/MARC21/slim"', b'xmlns="info:lc/xmlns/marcxchange-v1"'
    )
    (found,) = items(body)
    assert found.item.record_format is RecordFormat.UNIMARC
    assert found.item.title == "三体. Ⅱ. 黑暗森林"


def test_large_files_are_read_in_blocks() -> None:
    records = [samples.santi() for _ in range(400)]
    for number, record in enumerate(records):
        record["001"].data = f"CN{number:06d}"
    assert len(items(samples.iso2709(records))) == 400
    assert len(items(samples.marcxml(records))) == 400


def test_records_built_with_pymarc_round_trip_through_both_containers() -> None:
    record = Record()
    record.leader = Leader("00000nam a2200000 i 4500")
    record.add_field(
        Field(tag="001", data="RT1"),
        Field(
            "245", Indicators("0", "0"), [Subfield("a", "《红楼梦》研究 :"), Subfield("b", "新论")]
        ),
    )
    binary = items(record.as_marc())[0].item
    xml = items(samples.marcxml([record]))[0].item
    assert binary == xml
    assert (binary.title, binary.subtitle) == ("《红楼梦》研究", "新论")


# --- Writing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("material", list(Material))
def test_items_written_as_marc21_read_back_unchanged(material: Material) -> None:
    item = ItemRecord(
        control_number="W000001",
        record_format=RecordFormat.MARC21,
        title="球状闪电",
        subtitle="长篇科幻小说",
        authors=("刘慈欣", "Liu, Ken"),
        isbns=("9787536692930",),
        issn="0028-0836",
        language="chi",
        publication_year=2016,
        publisher="四川科学技术出版社",
        material_type=material,
        class_numbers=(
            parse_class_number("clc", "I247.55"),
            parse_class_number("lcc", "PL2946.L58"),
            parse_class_number("ddc", "895.136"),
        ),
        subjects=("科学幻想小说 -- 中国 -- 当代", "Science fiction, Chinese"),
    )
    record = marc21_record(item)
    (binary,) = items(record.as_marc())
    (xml,) = items(samples.marcxml([record]))
    assert binary.item == item
    assert xml.item == item


def test_xml_in_gbk_is_refused_with_a_way_out() -> None:
    xml = '<?xml version="1.0" encoding="GBK"?><collection><record>三体</record></collection>'
    data = xml.encode("gbk")
    (problem,) = read(data)
    assert isinstance(problem, RecordProblem) and problem.field == "file"
    assert "re-export the file as UTF-8" in problem.reason
