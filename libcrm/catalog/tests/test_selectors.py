"""Reads of the catalogue: items by id and by class subtree, rollups in the reader's language."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.utils import translation

from libcrm.catalog.errors import InvalidClassNumber
from libcrm.catalog.selectors import (
    catalog_imports,
    class_rollup,
    classification_node,
    item_by_id,
    items_in_class,
    subclasses,
    top_classes,
)
from libcrm.catalog.services import import_marc
from libcrm.catalog.tests import samples
from libcrm.privacy.actors import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(actor: Actor) -> None:
    computing = samples.santi()
    computing["001"].data = "CN000010"
    computing["245"]["a"] = "数据库系统概论 /"
    computing["084"]["a"] = "TP311.13/456"
    networks = samples.santi()
    networks["001"].data = "CN000011"
    networks["245"]["a"] = "通信原理 /"
    networks["084"]["a"] = "TN911"
    records = [*samples.good_records(), computing, networks]
    import_marc(actor, io.BytesIO(samples.iso2709(records)))


def codes(items: Any) -> list[str]:
    return sorted(i.control_number for i in items)


def test_item_by_id(catalogue: None, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        item = item_by_id("ils:CN000002")
        assert item is not None and item.classification is not None
        assert (item.title, item.classification.code) == ("深度学习", "TP181")
    assert item_by_id("ils:nope") is None


def test_items_in_a_class_subtree(catalogue: None) -> None:
    assert codes(items_in_class("clc", "TP")) == ["CN000002", "CN000010"]
    assert codes(items_in_class("clc", "T")) == ["CN000002", "CN000010", "CN000011"]
    assert codes(items_in_class("clc", "tp3")) == ["CN000010"]
    assert codes(items_in_class("clc", "TP311.13")) == ["CN000010"]
    assert codes(items_in_class("clc", "I247.5")) == ["012008000123", "CN000001"]
    assert codes(items_in_class("clc", "I")) == ["012008000123", "CN000001"]
    assert codes(items_in_class("clc", "J")) == ["CN000004", "CN000005"]
    assert codes(items_in_class("lcc", "Q")) == ["US000003"]
    assert codes(items_in_class("lcc", "QA76")) == ["US000003"]
    assert codes(items_in_class("lcc", "QA7")) == []  # QA7 is a number, not a prefix of QA76
    assert list(items_in_class("ddc", "0")) == []  # DDC is the book's second scheme, not its class


def test_a_class_query_is_one_query(catalogue: None, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1):
        assert len(list(items_in_class("clc", "T"))) == 3


def test_items_in_class_refuses_what_is_not_notation(catalogue: None) -> None:
    with pytest.raises(InvalidClassNumber):
        items_in_class("clc", "L1")


def test_rollup_to_the_top_class_in_the_current_language(
    db: None, django_assert_num_queries: Any
) -> None:
    with translation.override("zh-hans"), django_assert_num_queries(1):
        rollup = class_rollup("clc", "TP311.13/123")
    assert rollup.code == "TP311.13"
    assert rollup.top is not None and (rollup.top.code, rollup.top.label) == ("T", "工业技术")
    assert [c.code for c in rollup.path] == [
        "T", "TP", "TP3", "TP31", "TP311", "TP311.1", "TP311.13",
    ]  # fmt: skip
    with translation.override("en"):
        english = class_rollup("clc", "I247.55")
    assert english.top is not None and english.top.label == "Literature"
    assert english.path[-1].label == "Contemporary novels and novellas"
    assert (
        class_rollup("ddc", "005.133", language="zh-hans").path[0].label == "计算机科学、信息与总类"
    )
    assert [c.notation for c in class_rollup("ddc", "005.133").path] == ["000", "000"]


def test_numbers_deeper_than_the_schedule_roll_up_to_their_named_ancestors(db: None) -> None:
    rollup = class_rollup("lcc", "Q175.5", language="en")
    assert rollup.top is not None and (rollup.top.code, rollup.top.label) == ("Q", "Science")
    assert [c.code for c in rollup.path] == ["Q"]


def test_the_hierarchy_can_be_walked(db: None) -> None:
    assert [n.code for n in top_classes("lcc")][:3] == ["A", "B", "C"]
    assert len(top_classes("ddc")) == 10
    tp = classification_node("clc", "tp")
    assert tp is not None and tp.parent is not None and tp.parent.code == "T"
    with translation.override("zh-hans"):
        assert str(tp) == "TP 自动化技术、计算机技术"
    under = [n.code for n in subclasses(tp)]
    assert "TP311.13" in under and "TP" not in under and "TN" not in under
    assert {c.code for c in tp.children.all()} == {"TP1", "TP2", "TP3", "TP7"}


def test_import_history(catalogue: None) -> None:
    (run,) = catalog_imports()
    assert (run.created, run.rejected) == (9, 0)
