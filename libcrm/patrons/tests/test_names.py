"""Name search terms: 汉字, pinyin and Latin names are all findable by exact terms."""

from __future__ import annotations

from libcrm.patrons.names import name_terms, query_term


def test_chinese_name_is_findable_by_characters_and_by_pinyin() -> None:
    terms = name_terms("张伟")
    assert query_term("张伟") in terms
    assert query_term("Zhang Wei") in terms
    assert query_term("zhangwei") in terms


def test_latin_name_is_findable_whole_and_by_each_word() -> None:
    terms = name_terms("Mary-Jane  O'Neil")
    assert query_term("mary jane o neil") in terms
    assert query_term("O'Neil") in terms
    assert query_term("oneil") in terms
    assert query_term("mary") in terms


def test_full_width_and_case_do_not_matter() -> None:
    assert query_term("ＡＬＩＣＥ") in name_terms("Alice")


def test_a_chinese_query_does_not_widen_to_homophones() -> None:
    assert query_term("张伟") not in name_terms("章伟")
    assert query_term("zhang wei") in name_terms("章伟")
