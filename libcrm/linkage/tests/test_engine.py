"""The linkage engine on a small library: generated patrons as background, hand-made pairs.

The background (600 generated records, duplicates included) gives the model something to
train on; the hand-made records test single behaviours: a homophone typo in 汉字 still links
through the pinyin, a namesake with another birth year does not, a changed phone with the same
e-mail address links.
"""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pytest

from libcrm.linkage.engine import (
    PAIR_SCHEMA,
    RAW_SCHEMA,
    LinkSettings,
    TooManyPairs,
    link_records,
)
from libcrm.linkage.engine.model import COMPARISONS
from libcrm.linkage.engine.prepare import prepare_records, split_name
from libcrm.linkage.quality import world_raw_records
from libcrm.world.world import WorldConfig, build_people

BASE = 10_000  # ids of the hand-made records


def _row(i: int, name: str, birth_year: int | None, **extra: object) -> dict:
    row = {
        "id": BASE + i,
        "name": name,
        "birth_year": birth_year,
        "gender": "female",
        "category": "postgraduate",
        "department": "hist",
        "home_branch": "main",
        "phones": [],
        "emails": [],
        "items": [],
    }
    row.update(extra)
    return row


HAND_MADE = [
    # a homophone typo in the given name (婧 for 静), same birth year and department
    _row(1, "欧阳婧萱", 1996, phones=["+8613912345670"]),
    _row(2, "欧阳静萱", 1996, phones=["+8613987654321"]),
    # namesakes: same rare name, birth years twenty years apart, other departments
    _row(3, "司马翰墨", 1970, gender="male", category="faculty", department="law"),
    _row(4, "司马翰墨", 1991, gender="male", category="alumnus", department="cs"),
    # a changed phone, the same e-mail address entered on both records
    _row(5, "诸葛晓岚", 1988, phones=["+8613600000001"], emails=["xiaolan.zg@mail.example"]),
    _row(6, "诸葛晓岚", None, phones=["+8618800000002"], emails=["xiaolan.zg@mail.example"]),
    # two students of one rare name and birth year, each with their own 学号: two people
    _row(7, "慕容雪松", 2004, unique_kinds=["campus_id"]),
    _row(8, "慕容雪松", 2004, unique_kinds=["campus_id"]),
    # the same name and birth year, a campus record and a community card (身份证): one person
    _row(9, "皇甫青禾", 1985, category="faculty", unique_kinds=["campus_id"]),
    _row(
        10,
        "皇甫青禾",
        1985,
        category="resident",
        department=None,
        home_branch="community",
        unique_kinds=["national_id"],
    ),
]


@pytest.fixture(scope="module")
def records() -> pa.Table:
    people = build_people(WorldConfig(until=date(2026, 6, 30), patrons=600, seed=11))
    background = world_raw_records(people)
    return pa.concat_tables([background, pa.Table.from_pylist(HAND_MADE, schema=RAW_SCHEMA)])


@pytest.fixture(scope="module")
def result(records: pa.Table):
    return link_records(records, LinkSettings(review_threshold=0.05))


def _pair(result, a: int, b: int) -> dict | None:
    for row in result.pairs.to_pylist():
        if (row["left_id"], row["right_id"]) == (BASE + a, BASE + b):
            return row
    return None


def test_names_in_han_and_pinyin_meet() -> None:
    assert split_name("张伟")[1] == split_name("Zhang Wei")[1] == "wei zhang"
    assert split_name("ZHANG Wei")[1] == split_name("Wei Zhang")[1] == "wei zhang"
    assert split_name("张炜")[1] == "wei zhang"  # a homophone typo reads the same
    han, _py, family = split_name("欧阳婧萱")
    assert (han, family) == ("欧阳婧萱", "ouyang")
    assert split_name("曾明")[2] == "zeng"  # the surname reading, not "ceng"
    assert split_name("José Müller")[1] == "jose muller"


def test_typo_in_han_links_through_pinyin(result) -> None:
    pair = _pair(result, 1, 2)
    assert pair is not None and pair["match_probability"] >= 0.5
    name = next(e for e in json.loads(pair["evidence"]) if e["comparison"] == "name")
    assert "pinyin" in name["level"] and name["agrees"] and name["weight"] > 0


def test_namesake_with_another_birth_year_does_not_link(result) -> None:
    pair = _pair(result, 3, 4)
    assert pair is None or pair["match_probability"] < 0.5


def test_changed_phone_with_same_email_links(result) -> None:
    pair = _pair(result, 5, 6)
    assert pair is not None and pair["match_probability"] >= 0.5
    evidence = {e["comparison"]: e for e in json.loads(pair["evidence"])}
    assert evidence["email"]["label_en"] == "Same e-mail address"
    assert evidence["email"]["weight"] > 10
    assert not evidence["phone"]["agrees"]


def test_pairs_and_evidence_shape(result, records: pa.Table) -> None:
    assert result.pairs.schema.equals(PAIR_SCHEMA)
    assert result.records == records.num_rows
    rows = result.pairs.to_pylist()
    assert rows and all(r["left_id"] < r["right_id"] for r in rows)
    assert all(r["match_probability"] >= 0.05 for r in rows)
    names = [c.name for c in COMPARISONS]
    for row in rows:
        evidence = json.loads(row["evidence"])
        assert [e["comparison"] for e in evidence] == names
        assert all(e["label_en"] and e["label_zh"] for e in evidence)
        # the evidence adds up to the pair's match weight (less the prior's)
        total = sum(e["weight"] for e in evidence) + result.model["prior_match_weight"]
        assert total == pytest.approx(row["match_weight"], abs=0.01)
    assert set(result.timings) == {"prepare", "block", "train", "predict"}


def test_model_has_m_u_and_weights(result) -> None:
    model = result.model
    json.dumps(model)  # JSON-able
    assert 0 < model["prior"] < 0.01
    assert [c["comparison"] for c in model["comparisons"]] == [c.name for c in COMPARISONS]
    for comparison in model["comparisons"]:
        assert comparison["label_zh"]
        for level in comparison["levels"]:
            assert level["label_en"] and level["label_zh"]
            if level["null"]:
                assert level["match_weight"] is None
            else:
                assert 0 < level["m"] <= 1 and 0 < level["u"] <= 1
                assert level["match_weight"] is not None
    birth = next(c for c in model["comparisons"] if c["comparison"] == "birth_year")
    weights = {lv["label_en"]: lv["match_weight"] for lv in birth["levels"]}
    assert weights["Same birth year"] > 0 > weights["Birth years two to five apart"]
    assert weights["Birth years more than five apart"] < weights["Birth years two to five apart"]


def test_refuses_above_max_pairs(records: pa.Table) -> None:
    with pytest.raises(TooManyPairs, match="max_pairs"):
        link_records(records, LinkSettings(max_pairs=10))


def test_bad_input_names_the_column() -> None:
    with pytest.raises(ValueError, match="birth_year"):
        prepare_records(pa.table({"id": [1], "name": ["李娜"]}))
    with pytest.raises(ValueError, match="review_threshold"):
        LinkSettings(review_threshold=1.5)
    with pytest.raises(ValueError, match="auto_merge_threshold"):
        LinkSettings(review_threshold=0.6, auto_merge_threshold=0.5)


def test_two_campus_ids_keep_namesakes_apart(result) -> None:
    pair = _pair(result, 7, 8)
    assert pair is None or pair["match_probability"] < 0.5
    if pair is not None:
        evidence = {e["comparison"]: e for e in json.loads(pair["evidence"])}
        assert evidence["person_ids"]["weight"] < -10


def test_a_community_card_links_to_the_campus_record(result) -> None:
    pair = _pair(result, 9, 10)
    assert pair is not None and pair["match_probability"] >= 0.5
    evidence = {e["comparison"]: e for e in json.loads(pair["evidence"])}
    assert evidence["category"]["label_en"] == "One is a resident's registration"
    assert evidence["person_ids"]["weight"] >= 0


def test_anchor_pairs_are_rare_han_names_without_two_person_ids(records: pa.Table) -> None:
    from libcrm.linkage.engine.run import anchor_pairs

    anchors = {
        (r["unique_id_l"], r["unique_id_r"])
        for r in anchor_pairs(prepare_records(records)).to_pylist()
    }
    assert (BASE + 9, BASE + 10) in anchors
    assert (BASE + 7, BASE + 8) not in anchors  # two campus IDs
    assert (BASE + 3, BASE + 4) not in anchors  # birth years twenty apart
