"""The linkage engine on a small library: generated patrons as background, hand-made pairs.

The background (600 generated records, duplicates included) gives the model something to
train on; the hand-made records test single behaviours: a homophone typo in 汉字 still links
through the pinyin, a namesake with another birth year does not, a changed phone with the same
e-mail address links.
"""

from __future__ import annotations

import json
import math
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
from libcrm.linkage.engine.model import COMPARISONS, TOGETHER
from libcrm.linkage.engine.prepare import other_spelling, prepare_records, split_name
from libcrm.linkage.engine.run import (
    exact_name_u,
    name_term_frequencies,
    together,
)
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
    # a Latin name with two letters swapped on the second record (no spelling nor family name
    # in common: found only by the letters of the name)
    _row(11, "Arjun Patel", 2001, gender="male", category="undergraduate", department="pharm",
         unique_kinds=["campus_id"]),
    _row(12, "Arjun Ptael", 2001, gender="male", category="undergraduate", department="pharm"),
    # 覃 read Tan in the pinyin registration, Qin being the reading the engine spells first
    _row(13, "覃语桐", 1999, category="staff", department="law", unique_kinds=["campus_id"]),
    _row(14, "Tan Yutong", 1999, category="staff", department="law"),
    # a WeChat registration (no ID, birth year left out) beside two residents of its name, who
    # each hold a 身份证: it is one of them at most
    _row(15, "东方若溪", None, category="resident", department=None, home_branch=None),
    _row(16, "东方若溪", 1980, category="resident", department=None, home_branch="main",
         unique_kinds=["national_id"]),
    _row(17, "东方若溪", 1981, category="resident", department=None, home_branch="main",
         unique_kinds=["national_id"]),
]  # fmt: skip


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
        # one entry per comparison, then the other pairs' shift when they made one
        assert [e["comparison"] for e in evidence] in (names, [*names, TOGETHER])
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
    # the branch is weighed given that one is a resident's card, not as "branches differ"
    assert evidence["home_branch"]["label_en"] == (
        "Different home branches, one a resident's registration"
    )
    assert abs(evidence["home_branch"]["weight"]) < 2


def test_anchor_pairs_are_rare_han_names_without_two_person_ids(records: pa.Table) -> None:
    from libcrm.linkage.engine.run import anchor_pairs

    anchors = {
        (r["unique_id_l"], r["unique_id_r"])
        for r in anchor_pairs(prepare_records(records)).to_pylist()
    }
    assert (BASE + 9, BASE + 10) in anchors
    assert (BASE + 7, BASE + 8) not in anchors  # two campus IDs
    assert (BASE + 3, BASE + 4) not in anchors  # birth years twenty apart


def test_split_spellings_agree() -> None:
    """A Chinese name typed one syllable a word is the name written the usual ways."""
    usual = split_name("欧阳静轩")[1:]
    assert usual == ("jingxuan ouyang", "ouyang")
    for spelling in (
        "Ou Yang Jing Xuan",
        "Ouyang Jingxuan",
        "OU YANG Jing Xuan",
        "ou-yang jing-xuan",
    ):
        assert split_name(spelling)[1:] == usual, spelling
    assert split_name("Zhang Jing Xuan")[1] == split_name("张静轩")[1] == "jingxuan zhang"
    # words that are not all pinyin syllables stay as written
    assert split_name("Maria Luisa Fernandes")[1] == "fernandes luisa maria"


def test_letters_of_a_name_ignore_spacing_and_order() -> None:
    prepared = prepare_records(
        pa.Table.from_pylist(
            [
                _row(1, "Arjun Patel", 2001),
                _row(2, "Arjun Ptael", 2001),
                _row(3, "Jingxuan Ouyang", 2001),
                _row(4, "Ou Yang Jing Xuan", 2001),
                _row(5, "Arjun Patil", 2001),
            ],
            schema=RAW_SCHEMA,
        )
    ).to_pylist()
    letters = [row["name_letters"] for row in prepared]
    assert letters[0] == letters[1] != letters[4] and letters[2] == letters[3]


def test_surname_read_the_other_way() -> None:
    assert other_spelling("覃语桐") == split_name("Tan Yutong")[1] == "tan yutong"
    assert split_name("覃语桐")[1] == "qin yutong"
    assert other_spelling("曾明") == "ceng ming"
    assert other_spelling("张伟") is None and other_spelling("Tan Yutong") is None
    keys = (
        prepare_records(
            pa.Table.from_pylist(
                [_row(1, "覃语桐", 1999), _row(2, "李娜", 1999)], schema=RAW_SCHEMA
            )
        )
        .column("name_keys")
        .to_pylist()
    )
    assert keys == [["qin yutong", "tan yutong"], ["li na"]]


def test_transposed_latin_letters_link(result) -> None:
    pair = _pair(result, 11, 12)
    assert pair is not None and pair["match_probability"] >= 0.5
    name = next(e for e in json.loads(pair["evidence"]) if e["comparison"] == "name")
    assert name["label_en"].startswith("Same letters") and name["weight"] > 0


def test_other_surname_reading_links(result) -> None:
    pair = _pair(result, 13, 14)
    assert pair is not None and pair["match_probability"] >= 0.5
    name = next(e for e in json.loads(pair["evidence"]) if e["comparison"] == "name")
    assert "surname read the other way" in name["label_en"] and name["weight"] > 0


def test_a_record_is_one_person_with_one_of_two_id_holders(result) -> None:
    first, second = _pair(result, 15, 16), _pair(result, 15, 17)
    found = [p for p in (first, second) if p is not None]
    # scored one by one each would be as likely as the pair alone; together they share one chance
    assert sum(p["match_probability"] for p in found) < 1
    for pair in found:
        evidence = {e["comparison"]: e for e in json.loads(pair["evidence"])}
        assert evidence[TOGETHER]["weight"] < 0 and not evidence[TOGETHER]["agrees"]
    assert _pair(result, 16, 17) is None  # two 身份证: two people


def test_model_levels_learnt_from_anchor_pairs_and_split(result) -> None:
    levels = {
        (c["comparison"], lv["label_en"]): lv
        for c in result.model["comparisons"]
        for lv in c["levels"]
    }
    # a level no anchor pair shows has m at the floor, not its starting value
    assert levels[("department", "Different departments")]["m"] < 0.05
    assert levels[("gender", "Different genders")]["m"] < 0.05
    # birth years one apart on two ID-backed records weigh against; the split keeps one u
    both = levels[
        ("birth_year", "Birth years one apart, both from an ID (campus system or 身份证)")
    ]
    plain = levels[("birth_year", "Birth years one apart")]
    assert both["match_weight"] < 0 < plain["match_weight"]
    assert both["u"] == pytest.approx(plain["u"], rel=0.05)
    # the two resident levels of the branch are weighed given the resident: m and u sum to 1
    resident = [
        lv
        for (c, label), lv in levels.items()
        if c == "home_branch" and "resident" in label and not lv["null"]
    ]
    assert len(resident) == 2
    assert sum(lv["m"] for lv in resident) == pytest.approx(1)
    assert sum(lv["u"] for lv in resident) == pytest.approx(1)


def _prepared(names: list[str | None]) -> pa.Table:
    return prepare_records(
        pa.Table.from_pylist([_row(i, n, 1990) for i, n in enumerate(names)], schema=RAW_SCHEMA)
    )


def test_name_levels_u_counted_exactly() -> None:
    prepared = _prepared(["张伟", "张伟", "张伟", "张炜", "李娜", "李娜", "Li Na", None])
    # 7 named records: 21 pairs. "wei zhang" is held by 4 (common), "li na" by 3 (rare).
    assert exact_name_u(prepared) == pytest.approx(
        {"rare_han": 1 / 21, "han": 3 / 21, "rare_py": 2 / 21, "py": 3 / 21}
    )


def _lookup(table: pa.Table) -> dict[str, float]:
    return dict(zip(*(table.column(i).to_pylist() for i in range(2)), strict=True))


def test_name_term_frequencies_count_other_people_within_common_names() -> None:
    prepared = _prepared(["张伟"] * 5 + ["李娜"] * 2 + ["Wang Fang"] * 3)
    tables = name_term_frequencies(prepared, prior=0.0)
    py = _lookup(tables["name_py"])
    share = 5 / 10  # records holding a common name (more than three hold "wei zhang")
    assert py["wei zhang"] == pytest.approx(share * 4 / 10)  # the four others of five
    assert py["li na"] == pytest.approx(share * 1 / 10)
    han = _lookup(tables["name_han"])
    assert set(han) == {"张伟", "李娜"}
    # the prior's expected further records of one's own person are not "others" either
    fewer = name_term_frequencies(prepared, prior=1 / 9)["name_py"].column("tf_name_py")
    assert fewer.to_pylist()[0] < py[tables["name_py"].column("name_py").to_pylist()[0]]


def _frame(rows: list[tuple[int, int, float]]):
    import pandas as pd

    return pd.DataFrame(rows, columns=["unique_id_l", "unique_id_r", "match_weight"])


def _kinds(kinds: dict[int, list[str]]) -> pa.Table:
    ids = sorted(kinds)
    return pa.table(
        {
            "unique_id": pa.array(ids, pa.int64()),
            "unique_kinds": pa.array([kinds[i] or None for i in ids], pa.list_(pa.string())),
        }
    )


def test_together_exclusive_id_holders_share_one_chance() -> None:
    # X resembles A and B (odds 8 each); A and B each hold a campus ID: X is one of them at most
    shifts = together(
        _frame([(1, 2, 3.0), (1, 3, 3.0)]), _kinds({1: [], 2: ["campus_id"], 3: ["campus_id"]})
    )
    # P(X is A) = 8 / (1 + 8 + 8): odds 8 / 9, i.e. 3 bits less log2(9)
    assert shifts == pytest.approx([-math.log2(9)] * 2)


def test_together_one_persons_records_are_all_one() -> None:
    # A is surely B and surely C (odds 1024 each); B–C alone looks unlikely (odds 1/4)
    shifts = together(
        _frame([(1, 2, 10.0), (1, 3, 10.0), (2, 3, -2.0)]), _kinds({1: [], 2: [], 3: []})
    )
    weight = -2.0 + shifts[2]
    assert 1 / (1 + 2**-weight) > 0.99
    # A–B and A–C stay sure; the B–C pair's own doubt costs them a little (all three or
    # A with one of them only)
    assert all(10.0 + shift > 7 for shift in shifts[:2])
    # a pair alone is as scored
    assert together(_frame([(1, 2, 1.5)]), _kinds({1: [], 2: []})) == [0.0]
