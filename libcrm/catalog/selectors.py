"""Reads of the catalogue: an item by its id, the items under a class, and the rollup of a class
number to its top class, labelled in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import get_language

from libcrm.catalog.classification import Scheme, notation, parse_code
from libcrm.catalog.models import CatalogImport, Classification, Item


def item_by_id(item_id: str) -> Item | None:
    """The item events know as ``item_id`` ("ils:000123"), with its named class."""
    return Item.objects.select_related("classification").filter(item_id=item_id).first()


def items_in_class(scheme: Scheme | str, code: str) -> QuerySet[Item]:
    """Every item classed under ``code`` in ``scheme``, at any depth: "TP" finds TP311.13 and
    TP181. Raises :class:`~libcrm.catalog.errors.InvalidClassNumber` for a code that is not
    notation of the scheme."""
    number = parse_code(scheme, code)
    return Item.objects.filter(
        classification_scheme=number.scheme.value,
        classification_path__startswith=number.tree_path,
    )


@dataclass(frozen=True)
class ClassLabel:
    code: str
    notation: str
    label: str


@dataclass(frozen=True)
class ClassRollup:
    """A class number with its named ancestors, top class first, labelled in one language.
    ``top`` is None only if the stored hierarchy lacks the top class (schedules not loaded)."""

    scheme: Scheme
    code: str
    top: ClassLabel | None
    path: tuple[ClassLabel, ...]


def class_rollup(scheme: Scheme | str, code: str, language: str | None = None) -> ClassRollup:
    """Roll ``code`` up to its top class; labels in ``language`` or else the active language."""
    number = parse_code(scheme, code)
    chinese = (language or get_language() or "").lower().startswith("zh")
    nodes = Classification.objects.filter(scheme=number.scheme.value, code__in=number.path)
    path = tuple(
        ClassLabel(n.code, notation(number.scheme, n.code), n.label_zh if chinese else n.label_en)
        for n in sorted(nodes, key=lambda n: n.depth)
    )
    top = path[0] if path and path[0].code == number.top else None
    return ClassRollup(number.scheme, number.code, top, path)


def classification_node(scheme: Scheme | str, code: str) -> Classification | None:
    number = parse_code(scheme, code)
    return Classification.objects.filter(scheme=number.scheme.value, code=number.code).first()


def top_classes(scheme: Scheme | str) -> QuerySet[Classification]:
    return Classification.objects.filter(scheme=Scheme(scheme).value, parent__isnull=True)


def subclasses(node: Classification) -> QuerySet[Classification]:
    """Every named class under ``node``, at any depth, in schedule order."""
    return Classification.objects.filter(
        Q(scheme=node.scheme) & Q(tree_path__startswith=node.tree_path) & ~Q(pk=node.pk)
    )


def catalog_imports() -> QuerySet[CatalogImport]:
    """Past imports, latest first, for the ingestion history."""
    return CatalogImport.objects.all()
