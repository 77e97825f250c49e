"""Catalogue records for the tests, built with pymarc itself: Chinese and English books, a
UNIMARC/CNMARC record, a video, a sound recording and a picture, and the broken files a real
import meets (a leader whose length is not a number, a record cut off by the end of the file)."""

from __future__ import annotations

from pathlib import Path

from pymarc import Field, Indicators, Leader, Record, Subfield
from pymarc.marc8_mapping import CODESETS
from pymarc.marcxml import record_to_xml

SANTI_ISBN = "9787536692930"  # 《三体》, 重庆出版社 2008
DEEP_LEARNING_ISBN = "9787115461476"  # 《深度学习》, 人民邮电出版社 2017
PYTHON_ISBN10 = "1593276036"  # Python Crash Course, No Starch Press 2016


def _data(tag: str, *pairs: str, ind: str = "  ") -> Field:
    codes = pairs[0::2]
    values = pairs[1::2]
    return Field(
        tag=tag,
        indicators=Indicators(ind[0], ind[1]),
        subfields=[Subfield(c, v) for c, v in zip(codes, values, strict=True)],
    )


def _control(tag: str, data: str) -> Field:
    return Field(tag=tag, data=data)


def marc21(type_of_record: str = "a", *fields: Field, encoding: str = "a") -> Record:
    record = Record()
    record.leader = Leader(f"00000n{type_of_record}m {encoding}2200000 i 4500")
    record.add_field(*fields)
    return record


def fixed_008(year: str, language: str, form: str = " ") -> Field:
    """A books 008: date entered, type of date "s", date 1, place, form of item at 23."""
    data = f"180101s{year}    cc {'':5}{form}{'':11}{language} d"
    assert len(data) == 40, len(data)
    return _control("008", data)


def santi() -> Record:
    """《三体》, MARC 21 as Chinese university libraries catalogue it: CLC in 084 $2 clc."""
    return marc21(
        "a",
        _control("001", "CN000001"),
        fixed_008("2008", "chi"),
        _data("020", "a", f"{SANTI_ISBN} (平装)", "c", "CNY23.00"),
        _data("084", "a", "I247.55", "2", "clc"),
        _data("100", "a", "刘慈欣,", "e", "著", ind="1 "),
        _data("245", "a", "三体 /", "c", "刘慈欣著.", ind="10"),
        _data("264", "a", "重庆 :", "b", "重庆出版社,", "c", "2008", ind=" 1"),
        _data("650", "a", "科学幻想小说", "y", "当代", "z", "中国", ind=" 7"),
    )


def deep_learning() -> Record:
    """《深度学习》, with its CLC in 093 (CALIS practice) and an ISBN with hyphens."""
    return marc21(
        "a",
        _control("001", "CN000002"),
        fixed_008("2017", "chi"),
        _data("020", "a", "978-7-115-46147-6"),
        _data("093", "a", "TP181"),
        _data("100", "a", "Goodfellow, Ian,", ind="1 "),
        _data("245", "a", "深度学习 =", "b", "Deep learning /", ind="10"),
        _data("264", "b", "人民邮电出版社", "c", "2017.8", ind=" 1"),
        _data("700", "a", "Bengio, Yoshua,", ind="1 "),
        _data("700", "a", "Courville, Aaron,", ind="1 "),
    )


def python_crash_course() -> Record:
    """An English book with LCC QA76.73.P98 and DDC 005.133 (and an ISBN-10)."""
    return marc21(
        "a",
        _control("001", "US000003"),
        fixed_008("2016", "eng"),
        _data("020", "a", PYTHON_ISBN10),
        _data("050", "a", "QA76.73.P98", "b", "M38 2016", ind="00"),
        _data("082", "a", "005.13/3", "2", "23", ind="04"),
        _data("100", "a", "Matthes, Eric,", "e", "author.", ind="1 "),
        _data(
            "245",
            "a",
            "Python crash course :",
            "b",
            "a hands-on, project-based introduction to programming /",
            "c",
            "by Eric Matthes.",
            ind="10",
        ),
        _data("264", "a", "San Francisco :", "b", "No Starch Press,", "c", "[2016]", ind=" 1"),
        _data("336", "a", "text", "b", "txt", "2", "rdacontent"),
        _data("650", "a", "Python (Computer program language)", ind=" 0"),
        _data("650", "a", "Computer programming", "v", "Handbooks, manuals, etc.", ind=" 0"),
    )


def wandering_earth_video() -> Record:
    """A DVD: leader/06 "g" (projected medium) with 007 "v" (videorecording)."""
    return marc21(
        "g",
        _control("001", "CN000004"),
        _control("007", "vd cvaizq"),
        fixed_008("2019", "chi"),
        _data("084", "a", "J952", "2", "clc"),
        _data("245", "a", "流浪地球", "h", "[videorecording]", ind="00"),
    )


def erhu_audio() -> Record:
    """A music recording: leader/06 "j"."""
    return marc21(
        "j",
        _control("001", "CN000005"),
        fixed_008("2015", "chi"),
        _data("084", "a", "J632.21", "2", "clc"),
        _data("245", "a", "二泉映月", ind="00"),
    )


def poster_image() -> Record:
    """A poster: leader/06 "k" (two-dimensional non-projectable graphic)."""
    return marc21(
        "k",
        _control("001", "CN000006"),
        _data("245", "a", "图书馆阅读推广海报", ind="00"),
    )


def unimarc_santi_2() -> Record:
    """《三体Ⅱ》 in CNMARC: title in 200, ISBN in 010, language in 101, CLC in 690."""
    record = Record()
    record.leader = Leader("00000nam0 2200000   450 ")
    record.add_field(
        _control("001", "012008000123"),
        _data("010", "a", "978-7-5366-9396-8", "d", "CNY32.00"),
        _data("100", "a", "20081010d2008    em y0chiy50      ea"),
        _data("101", "a", "chi", ind="0 "),
        _data("200", "a", "三体", "h", "Ⅱ", "i", "黑暗森林", "f", "刘慈欣著", ind="1 "),
        _data("210", "a", "重庆", "c", "重庆出版社", "d", "2008"),
        _data("606", "a", "科学幻想小说", "x", "长篇小说", "y", "中国", "z", "当代", ind="0 "),
        _data("690", "a", "I247.55", "v", "5"),
        _data("701", "a", "刘", "b", "慈欣", "4", "070", ind=" 0"),
    )
    return record


def marc8_record() -> Record:
    """A MARC-8 record (leader/09 blank): a French diacritic and 汉字 in EACC."""
    eacc = {value[0]: code for code, value in CODESETS[0x31].items()}
    san, ti = (eacc[ord(ch)] for ch in "三体")
    cjk = (
        "\x1b$1"
        + "".join(
            bytes(((code >> 16) & 0xFF, (code >> 8) & 0xFF, code & 0xFF)).decode("latin-1")
            for code in (san, ti)
        )
        + "\x1b(B"
    )
    record = marc21(
        "a",
        _control("001", "M8000007"),
        fixed_008("1999", "fre"),
        _data("245", "a", "Caf\xe2e " + cjk, ind="00"),
        encoding=" ",
    )
    record.to_unicode = False  # keep leader/09 blank and write the MARC-8 bytes as they are
    return record


def gbk_bytes(record: Record, leader_says_utf8: bool = False) -> bytes:
    """``record`` written in GBK, as older Chinese systems export it; leader/09 blank, or "a"
    for the systems that claim UTF-8 all the same."""
    for field in record.get_fields():
        if field.is_control_field():
            field.data = field.data.encode("gbk").decode("latin-1")
        else:
            field.subfields = [
                Subfield(sf.code, sf.value.encode("gbk").decode("latin-1"))
                for sf in field.subfields
            ]
    record.leader = Leader(str(record.leader)[:9] + " " + str(record.leader)[10:])
    record.to_unicode = False
    data = record.as_marc()
    return data[:9] + b"a" + data[10:] if leader_says_utf8 else data


def good_records() -> list[Record]:
    return [
        santi(),
        deep_learning(),
        python_crash_course(),
        wandering_earth_video(),
        erhu_audio(),
        poster_image(),
        unimarc_santi_2(),
    ]


def iso2709(records: list[Record]) -> bytes:
    return b"".join(record.as_marc() for record in records)


def marcxml(records: list[Record]) -> bytes:
    body = b"".join(record_to_xml(record) for record in records)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<collection xmlns="http://www.loc.gov/MARC21/slim">\n' + body + b"\n</collection>\n"
    )


def broken_leader(record: Record, digits: bytes = b"abcde") -> bytes:
    """The record with its leader's length digits corrupted."""
    return digits + record.as_marc()[5:]


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path
