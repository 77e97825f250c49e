"""The linkage model: what is compared, in which levels, how pairs are blocked and trained.

One definition for every backend: the comparisons are built from Splink's comparison-level
library, which writes the SQL of each backend's dialect (DuckDB and Spark), so the DuckDB and
Spark runs score the very same model. Every level carries an English and a Chinese label,
shown to staff beside the level's m, u and match weight. Pure: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

from libcrm.linkage.engine.prepare import RARE_NAME_COUNT


@dataclass(frozen=True)
class Level:
    """One comparison level: its Splink creator and its labels for staff."""

    creator: cll.ComparisonLevelCreator
    label_en: str
    label_zh: str
    null: bool = False
    # Starting values, kept when the library's records never show the level (e.g. two records
    # sharing a phone number, which the registry's per-kind uniqueness makes rare).
    m: float | None = None
    u: float | None = None
    # Never trained: m stays the documented starting value (EM cannot learn a level whose
    # non-matches look like matches on everything else, e.g. a parent and a child of one name).
    fixed_m: bool = False
    # Levels of one comparison that share a pool share u (each gets the pool's total share of
    # random pairs): a level split on something strangers' values do not depend on (whether
    # both records hold an ID) keeps the u of the unsplit level, so the split moves m only.
    u_pool: str | None = None
    # Counted exactly over every pair of the run rather than sampled (see run.exact_name_u):
    # one of "rare_han", "han", "rare_py", "py".
    exact_u: str | None = None
    # Levels of one comparison that share a condition another comparison already weighs
    # ("one is a resident's registration"): their m and u are each scaled to sum to one
    # within the group, so that their weights say what the level adds *given* the condition.
    given: str | None = None


@dataclass(frozen=True)
class ComparisonSpec:
    name: str  # the output column name, "name", "birth_year", ...
    label_en: str
    label_zh: str
    levels: tuple[Level, ...]

    def creator(self) -> cl.CustomComparison:
        levels = []
        for level in self.levels:
            creator = level.creator.configure(label_for_charts=level.label_en)
            if level.m is not None:
                creator = creator.configure(m_probability=level.m)
            if level.u is not None:
                creator = creator.configure(u_probability=level.u)
            levels.append(creator)
        return cl.CustomComparison(
            comparison_levels=levels,
            output_column_name=self.name,
            comparison_description=self.label_en,
        )


# A spelling only two records of this run hold (the pair itself): see prepare.RARE_NAME_COUNT.
#: m of "each holds its own campus/national ID": how rarely one person has two (see below).
PERSON_ID_CONFLICT_M = 1e-6

_RESIDENT = cll.CustomLevel("(category_l = 'resident' OR category_r = 'resident')")
_RARE = cll.CustomLevel(f"name_count_l <= {RARE_NAME_COUNT} AND name_count_r <= {RARE_NAME_COUNT}")

COMPARISONS: tuple[ComparisonSpec, ...] = (
    ComparisonSpec(
        "name",
        "Name",
        "姓名",
        (
            Level(cll.NullLevel("name_py"), "Name missing", "姓名缺失", null=True),
            Level(
                cll.And(cll.ExactMatchLevel("name_han"), _RARE),
                "Same rare name in 汉字 (no other record holds it)",
                "汉字姓名相同(少见姓名)",
                m=0.25,
                exact_u="rare_han",
            ),
            Level(
                cll.ExactMatchLevel("name_han").configure(tf_adjustment_column="name_han"),
                "Same name in 汉字",
                "汉字姓名相同",
                m=0.2,
                exact_u="han",
            ),
            Level(
                cll.And(cll.ExactMatchLevel("name_py"), _RARE),
                "Same rare name in pinyin (汉字 differ or one is in pinyin)",
                "拼音相同(少见姓名;汉字不同或一方为拼音)",
                m=0.25,
                exact_u="rare_py",
            ),
            Level(
                cll.ExactMatchLevel("name_py").configure(tf_adjustment_column="name_py"),
                "Same name in pinyin (汉字 differ or one is in pinyin)",
                "拼音相同(汉字不同或一方为拼音)",
                m=0.2,
                exact_u="py",
            ),
            Level(
                cll.ArrayIntersectLevel("name_keys", 1),
                "Same name with the surname read the other way (覃 Qin / Tan, 曾 Zeng / Ceng)",
                "姓氏另一读音拼写相同(覃 Qin / Tan、曾 Zeng / Ceng)",
                m=0.02,
            ),
            # A Latin spelling that differs only in spacing or in the order of its letters (two
            # swapped): not between two names in 汉字, where it would be another name read alike
            # (胡兰 hu lan, 卢汉 lu han).
            Level(
                cll.And(
                    cll.ExactMatchLevel("name_letters"),
                    cll.CustomLevel("name_han_l IS NULL OR name_han_r IS NULL"),
                ),
                "Same letters, spaced or ordered differently (Ou Yang / Ouyang, Ptael / Patel)",
                "字母相同、分写或顺序不同(Ou Yang / Ouyang、Ptael / Patel)",
                m=0.05,
            ),
            Level(
                cll.And(
                    cll.LevenshteinLevel("name_py", 2),
                    cll.CustomLevel("name_han_l IS NULL AND name_han_r IS NULL"),
                ),
                "Latin spelling within two letters",
                "拉丁字母拼写相差不超过两个字母",
                m=0.01,
            ),
            Level(cll.ElseLevel(), "Different names", "姓名不同", m=0.1),
        ),
    ),
    ComparisonSpec(
        "birth_year",
        "Birth year",
        "出生年份",
        (
            Level(cll.NullLevel("birth_year"), "Birth year missing", "出生年份缺失", null=True),
            Level(cll.ExactMatchLevel("birth_year"), "Same birth year", "出生年份相同", m=0.7),
            # A campus ID record's birth year comes from the campus system and a national ID
            # record's from the 身份证 itself (实名制): two such records one year apart are two
            # people unless one of those systems erred — held like a mistyped year (below).
            Level(
                cll.And(
                    cll.AbsoluteDifferenceLevel("birth_year", 1),
                    cll.CustomLevel("unique_kinds_l IS NOT NULL AND unique_kinds_r IS NOT NULL"),
                ),
                "Birth years one apart, both from an ID (campus system or 身份证)",
                "出生年份相差一年(双方均来自学工号或身份证)",
                m=0.002,
                fixed_m=True,
                u_pool="one_apart",
            ),
            Level(
                cll.AbsoluteDifferenceLevel("birth_year", 1),
                "Birth years one apart",
                "出生年份相差一年",
                m=0.25,
                u_pool="one_apart",
            ),
            Level(
                cll.AbsoluteDifferenceLevel("birth_year", 5),
                "Birth years two to five apart",
                "出生年份相差二至五年",
                m=0.01,
                fixed_m=True,
            ),
            # A birth year mistyped by two years or more: held at one record in 100 (two to five
            # apart) and one in 500 (further).
            Level(
                cll.ElseLevel(),
                "Birth years more than five apart",
                "出生年份相差五年以上",
                m=0.002,
                fixed_m=True,
            ),
        ),
    ),
    ComparisonSpec(
        "gender",
        "Gender",
        "性别",
        (
            Level(cll.NullLevel("gender"), "Gender not disclosed", "性别未填", null=True),
            Level(cll.ExactMatchLevel("gender"), "Same gender", "性别相同", m=0.95),
            Level(cll.ElseLevel(), "Different genders", "性别不同", m=0.05),
        ),
    ),
    ComparisonSpec(
        "phone",
        "Phone",
        "电话",
        (
            Level(cll.NullLevel("phones"), "Phone missing", "电话缺失", null=True),
            Level(
                cll.ArrayIntersectLevel("phones", 1),
                "Same phone number",
                "电话号码相同",
                m=0.3,
                u=1e-7,
            ),
            Level(
                cll.ArrayIntersectLevel("phone_tails", 1),
                "Same last four digits",
                "电话尾号四位相同",
                m=0.05,
                u=2e-4,
            ),
            Level(
                cll.ArrayIntersectLevel("phone_heads", 1),
                "Same first seven digits",
                "电话前七位相同",
                m=0.05,
                u=1e-3,
            ),
            Level(cll.ElseLevel(), "Different phones", "电话不同", m=0.6, u=0.999),
        ),
    ),
    ComparisonSpec(
        "email",
        "E-mail",
        "电子邮箱",
        (
            Level(cll.NullLevel("emails"), "E-mail missing", "邮箱缺失", null=True),
            Level(
                cll.ArrayIntersectLevel("emails", 1),
                "Same e-mail address",
                "邮箱地址相同",
                m=0.3,
                u=1e-7,
            ),
            Level(
                cll.ArrayIntersectLevel("email_locals", 1),
                "Same mailbox name, other domain",
                "邮箱用户名相同、域名不同",
                m=0.1,
                u=1e-5,
            ),
            Level(cll.ElseLevel(), "Different e-mail addresses", "邮箱不同", m=0.6, u=0.999),
        ),
    ),
    ComparisonSpec(
        "department",
        "Department",
        "院系",
        (
            Level(cll.NullLevel("department"), "Department missing", "院系缺失", null=True),
            Level(cll.ExactMatchLevel("department"), "Same department", "院系相同", m=0.7),
            Level(cll.ElseLevel(), "Different departments", "院系不同", m=0.3),
        ),
    ),
    ComparisonSpec(
        "home_branch",
        "Home branch",
        "常用馆舍",
        (
            Level(cll.NullLevel("home_branch"), "Home branch missing", "常用馆舍缺失", null=True),
            # Beside a resident's registration the branch says something else than between two
            # campus records (a community card is issued at the community service point, where
            # the holder lives, whatever branch their campus record names): its own levels,
            # weighed *given* that one record is a resident's — the category comparison
            # already counts that fact, and counting it again here weighed it twice.
            Level(
                cll.And(
                    _RESIDENT,
                    cll.ExactMatchLevel("home_branch"),
                ),
                "Same home branch, one a resident's registration",
                "常用馆舍相同(一方为社区居民登记)",
                m=0.2,
                given="resident",
            ),
            Level(
                _RESIDENT,
                "Different home branches, one a resident's registration",
                "常用馆舍不同(一方为社区居民登记)",
                m=0.8,
                given="resident",
            ),
            Level(cll.ExactMatchLevel("home_branch"), "Same home branch", "常用馆舍相同", m=0.7),
            Level(cll.ElseLevel(), "Different home branches", "常用馆舍不同", m=0.3),
        ),
    ),
    ComparisonSpec(
        "category",
        "Category",
        "读者类型",
        (
            Level(cll.NullLevel("category"), "Category missing", "读者类型缺失", null=True),
            Level(cll.ExactMatchLevel("category"), "Same category", "读者类型相同", m=0.7),
            # A resident's card (社区读者证, a desk registration) is open to anyone living nearby,
            # students and staff included: "resident" beside another category is a common way
            # for one person's two records to differ, unlike, say, undergraduate and faculty.
            Level(
                cll.CustomLevel("(category_l = 'resident' OR category_r = 'resident')"),
                "One is a resident's registration",
                "一方为社区居民登记",
                m=0.2,
            ),
            Level(cll.ElseLevel(), "Other categories", "读者类型不同", m=0.1),
        ),
    ),
    ComparisonSpec(
        "items",
        "Items used",
        "使用过的文献",
        (
            Level(cll.NullLevel("items"), "No use recorded", "无使用记录", null=True),
            Level(
                cll.ArrayIntersectLevel("items", 3),
                "Three or more items in common",
                "共同使用三种以上文献",
                m=0.2,
                u=1e-3,
            ),
            Level(
                cll.ArrayIntersectLevel("items", 1),
                "One or two items in common",
                "共同使用一至两种文献",
                m=0.4,
                u=0.05,
            ),
            Level(cll.ElseLevel(), "No items in common", "无共同使用的文献", m=0.4, u=0.95),
        ),
    ),
    # A campus ID (学号/工号) and a national ID (身份证) belong to one person, and the registry
    # gives each to one record only: two records that *both* hold one of a kind hold two
    # different ones — two people. Never trained (EM would see no match holding two and drive m
    # to zero): m is held at a documented value, one record in a million — a person the campus
    # system gave two IDs at once, an error of that system — about −20 bits: more than a rare
    # name, birth year, department and category together.
    ComparisonSpec(
        "person_ids",
        "Campus or national ID",
        "学工号或身份证",
        (
            Level(
                cll.NullLevel("unique_kinds"),
                "Not both hold a campus or national ID",
                "并非双方都有学工号或身份证",
                null=True,
            ),
            Level(
                cll.ArrayIntersectLevel("unique_kinds", 1),
                "Each holds its own campus or national ID (two IDs: two people)",
                "双方各有不同的学工号或身份证(两个证件即两个人)",
                m=PERSON_ID_CONFLICT_M,
            ),
            Level(
                cll.ElseLevel(),
                "One holds a campus ID, the other a national ID",
                "一方有学工号,另一方有身份证",
                m=1 - PERSON_ID_CONFLICT_M,
                u=1 - PERSON_ID_CONFLICT_M,  # weighs nothing until the records show the level
            ),
        ),
    ),
)
COMPARISON_BY_NAME = {c.name: c for c in COMPARISONS}

# The evidence entry a pair gets when the other pairs among the same records move its odds
# (run.together): its key, its labels as a comparison and as a level.
TOGETHER = "together"
TOGETHER_LABEL_EN = "The other pairs among these records, taken together"
TOGETHER_LABEL_ZH = "综合这些记录之间的其他配对"
EXTRA_EVIDENCE = {TOGETHER: ("Other pairs of these records", "这些记录的其他配对")}

# Pairs are only scored when they agree on one of these (a union: a pair found by several is
# scored once). Together they keep every kind of variation the registry sees within reach —
# 汉字 typos and pinyin spellings share ``name_py`` and so its letters, which also match a Latin
# name spaced otherwise or with two letters swapped; a surname read the other way shares a name
# key; a name spelled differently still shares the birth year and family name, a phone tail or
# a mailbox name — while bounding the pair count.
BLOCKING_RULES: tuple[tuple[str, ...], ...] = (
    ("name_letters",),
    ("birth_year", "family_py"),
)
# Any shared value of these lists (``name_keys`` holds ``name_py``: the same spelling blocks).
ARRAY_BLOCKING_RULES: tuple[str, ...] = ("name_keys", "phones", "emails", "email_locals")

# EM passes (m by expectation maximisation over blocked pairs, no labels), each estimating only
# the comparisons it names, the others held at their values so far:
# 1. pairs with the same pinyin name and birth year — mostly one person, so EM cleanly learns
#    how often one person's two records agree on gender, contact, department, branch, category
#    and items;
# 2. pairs with the same pinyin name — the birth year (left out, one year off, or equal);
# 3. pairs with the same birth year and family name — the name, with the share of matches among
#    them held at the prior: within one birth year the department and category of *different*
#    people agree far more often than across the library (a cohort), and EM left free would
#    mistake such a cohort for one person.
ANCHOR_TRAINED = ("gender", "phone", "email", "department", "home_branch", "category", "items")
TRAINING_RULES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("name_py",), ("birth_year",)),
    (("birth_year", "family_py"), ("name",)),
)


def blocking_rules() -> list:
    rules = [block_on(*columns) for columns in BLOCKING_RULES]
    rules += [block_on(column, arrays_to_explode=[column]) for column in ARRAY_BLOCKING_RULES]
    return rules


def settings(prior: float = 0.0005) -> SettingsCreator:
    """The Splink settings for a dedupe run over one prepared table."""
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=prior,
        comparisons=[c.creator() for c in COMPARISONS],
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,  # for the γ (level) columns; dropped after
        additional_columns_to_retain=[],
        em_convergence=0.001,
        max_iterations=25,
    )
