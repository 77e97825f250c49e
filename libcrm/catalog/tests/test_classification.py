"""Class numbers of CLC, LCC and DDC: paths, top classes, rollups, odd input. No database."""

from __future__ import annotations

import pytest

from libcrm.catalog import schedules
from libcrm.catalog.classification import (
    Scheme,
    known_ancestors,
    nearest_known,
    notation,
    parse_class_number,
    parse_class_numbers,
    parse_clc,
    parse_code,
    parse_ddc,
    parse_lcc,
    rollup,
    schedule_parent,
    split_class_numbers,
    top_class,
)
from libcrm.catalog.errors import InvalidClassNumber

# --- CLC ---------------------------------------------------------------------------------------


def test_clc_path_runs_from_the_top_class_digit_by_digit() -> None:
    assert parse_clc("TP311.13") == ["T", "TP", "TP3", "TP31", "TP311", "TP311.1", "TP311.13"]
    assert parse_clc("I247.55") == ["I", "I2", "I24", "I247", "I247.5", "I247.55"]
    assert parse_clc("R73") == ["R", "R7", "R73"]
    assert parse_clc("Z") == ["Z"]
    assert parse_clc("TP") == ["T", "TP"]


@pytest.mark.parametrize(
    "raw",
    [
        "tp311.13",  # lower case
        "  TP311.13  ",  # surrounding spaces
        "TP 311.13",  # a space after the letters
        "TP311.13/123",  # 种次号 after the slash
        "TP311.13/G123 ",
        "ＴＰ３１１．１３",  # full-width, as typed with a Chinese input method
        "[TP311.13]",  # bracketed alternative class
        "TP31113",  # dots left out
        "TP311.13;I206",  # several classes: the first counts
    ],
)
def test_clc_odd_input_reads_as_the_same_class(raw: str) -> None:
    number = parse_class_number(Scheme.CLC, raw)
    assert number.code == "TP311.13"
    assert number.path[-1] == "TP311.13"
    assert number.top == "T"


def test_several_clc_classes_in_one_subfield() -> None:
    for raw in ("I247.5;I206", "I247.5；I206", "I247.5, I206", "I247.5 I206", "I247.5:I206"):
        assert [n.code for n in parse_class_numbers("clc", raw)] == ["I247.5", "I206"], raw
    assert split_class_numbers("clc", " I247.5 ; ; I206 ") == ["I247.5", "I206"]


def test_clc_auxiliary_notation_is_kept_in_the_code_but_rolls_up_to_the_main_class() -> None:
    number = parse_class_number("clc", "G4-03")
    assert number.code == "G4-03"
    assert number.path == ("G", "G4", "G4-03")
    assert parse_class_number("clc", "K928.9(2)").path[:4] == ("K", "K9", "K92", "K928")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("L123", "22 top classes"),  # L, M, W, Y are not CLC classes
        ("W1", "22 top classes"),
        ("TA11", "only T has two-letter subclasses"),
        ("IP311", "only T has two-letter subclasses"),
        ("TP31.1", "a dot goes after every third digit"),
        ("TP311ABC", "cannot read 'ABC'"),
        ("123", "22 top classes"),
        ("", "no CLC class number"),
        (";;", "no CLC class number"),
    ],
)
def test_invalid_clc_numbers_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidClassNumber, match=reason):
        parse_class_number("clc", raw)


def test_overlong_class_numbers_are_refused() -> None:
    with pytest.raises(InvalidClassNumber, match="too long"):
        parse_class_number("clc", "TP" + "1" * 60)


def test_clc_rollup_to_named_ancestors() -> None:
    assert [e.code for e in known_ancestors("clc", "TP311.13/123")] == [
        "T", "TP", "TP3", "TP31", "TP311", "TP311.1", "TP311.13",
    ]  # fmt: skip
    assert [e.code for e in known_ancestors("clc", "I247.55")] == [
        "I", "I2", "I24", "I247", "I247.5",
    ]  # fmt: skip
    near = nearest_known("clc", "I247.55")
    assert near is not None and near.label_zh == "新体长篇、中篇小说"
    top = rollup("clc", "TP181")
    assert top is not None and (top.code, top.label_zh) == ("T", "工业技术")
    assert top.label("zh-hans") == "工业技术" and top.label("en") == "Industrial technology"


def test_clc_schedule_has_the_22_top_classes_with_both_labels() -> None:
    tops = [e for e in schedules.entries("clc") if len(e.code) == 1]
    assert "".join(e.code for e in tops) == "ABCDEFGHIJKNOPQRSTUVXZ"
    assert all(e.label_zh and e.label_en for e in schedules.entries("clc"))
    assert schedules.entry("clc", "TP").label_zh == "自动化技术、计算机技术"
    assert schedules.entry("clc", "I2").label_zh == "中国文学"
    assert schedules.entry("clc", "R73").label_en == "Oncology"


def test_every_schedule_entry_is_valid_notation_whose_parent_is_listed() -> None:
    for scheme in Scheme:
        for entry in schedules.entries(scheme):
            number = parse_code(scheme, entry.code)
            assert number.code == entry.code, entry
            parent = schedule_parent(scheme, entry.code)
            assert (parent is None) == (len(number.path) == 1), entry
            if parent is not None:
                assert schedules.entry(scheme, parent) is not None


# --- LCC ---------------------------------------------------------------------------------------


def test_lcc_path_drops_the_cutter_and_date() -> None:
    assert parse_lcc("QA76.73.P98") == ["Q", "QA", "QA76", "QA76.73"]
    assert parse_lcc("qa76.73 .p98 2016") == ["Q", "QA", "QA76", "QA76.73"]
    assert parse_lcc("QA 76.73 P98") == ["Q", "QA", "QA76", "QA76.73"]
    assert parse_lcc("PL2946.L58 S26 2014") == ["P", "PL", "PL2946"]
    assert parse_lcc("E184") == ["E", "E184"]
    assert parse_lcc("KFN5225") == ["K", "KF", "KFN", "KFN5225"]
    assert parse_lcc("QA") == ["Q", "QA"]


def test_lcc_rollup_reaches_mathematics_and_science() -> None:
    assert top_class("lcc", "QA76.73.P98") == "Q"
    assert [(e.code, e.label_en) for e in known_ancestors("lcc", "QA76.73.P98")][:2] == [
        ("Q", "Science"),
        ("QA", "Mathematics"),
    ]
    assert len([e for e in schedules.entries("lcc") if len(e.code) == 1]) == 21


@pytest.mark.parametrize("raw", ["I22", "O1", "W10", "QA76-78", "76.73", ""])
def test_invalid_lcc_numbers(raw: str) -> None:
    with pytest.raises(InvalidClassNumber):
        parse_class_number("lcc", raw)


def test_lcc_cutter_check_is_not_slow_on_hostile_input() -> None:
    # The cutter pattern uses possessive quantifiers; a naive one backtracks exponentially here.
    with pytest.raises(InvalidClassNumber):
        parse_class_number("lcc", "QA76 ." + "P" * 5000 + "!")


# --- DDC ---------------------------------------------------------------------------------------


def test_ddc_path_main_class_division_section_and_decimals() -> None:
    assert parse_ddc("005.133") == ["0", "00", "005", "005.1", "005.13", "005.133"]
    assert parse_ddc("005.13/3") == ["0", "00", "005", "005.1", "005.13", "005.133"]
    assert parse_ddc("813.54 SMI") == ["8", "81", "813", "813.5", "813.54"]
    assert parse_ddc("[E] 005.1") == ["0", "00", "005", "005.1"]
    assert parse_ddc("300") == ["3", "30", "300"]
    assert parse_class_number("ddc", "005.130").code == "005.13"


def test_ddc_top_class_and_notation() -> None:
    assert top_class("ddc", "005.133") == "0"
    named = known_ancestors("ddc", "005.133")
    assert [(e.code, notation("ddc", e.code)) for e in named] == [("0", "000"), ("00", "000")]
    assert named[0].label_en == "Computer science, information & general works"
    assert named[1].label_en == "Computer science, knowledge & systems"
    assert notation("ddc", "05") == "050" and notation("ddc", "005.1") == "005.1"
    assert notation("clc", "TP") == "TP"
    ddc = schedules.entries("ddc")
    assert len([e for e in ddc if len(e.code) == 1]) == 10
    assert len([e for e in ddc if len(e.code) == 2]) == 100


@pytest.mark.parametrize("raw", ["FIC", "5", "42", "2019", "B"])
def test_invalid_ddc_numbers(raw: str) -> None:
    with pytest.raises(InvalidClassNumber):
        parse_class_number("ddc", raw)


def test_short_ddc_codes_are_libcrm_codes_not_catalogue_input() -> None:
    assert parse_code("ddc", "0").path == ("0",)
    assert parse_code("ddc", "05").path == ("0", "05")
    assert parse_code("clc", "tp").path == ("T", "TP")


def test_tree_paths_make_subtrees_prefixes() -> None:
    tp = parse_code("clc", "TP").tree_path
    assert tp == "/T/TP/"
    assert parse_class_number("clc", "TP311.13").tree_path.startswith(tp)
    assert not parse_class_number("clc", "TN91").tree_path.startswith(tp)
    # In LCC, QA760 is not inside QA76: the path compares whole steps, not characters.
    qa76 = parse_code("lcc", "QA76").tree_path
    assert parse_class_number("lcc", "QA76.73.P98").tree_path.startswith(qa76)
    assert not parse_class_number("lcc", "QA760").tree_path.startswith(qa76)
