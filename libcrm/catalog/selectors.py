"""Reads of the catalogue: an item by its id, the items under a class, and the rollup of a class
number to its top class, labelled in the reader's language."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils.translation import get_language

from libcrm.catalog.classification import ClassNumber, Scheme, notation, parse_code
from libcrm.catalog.errors import InvalidClassNumber
from libcrm.catalog.models import CatalogImport, Classification, Item


def item_by_id(item_id: str) -> Item | None:
    """The item events know as ``item_id`` ("ils:000123"), with its named class."""
    return Item.objects.select_related("classification").filter(item_id=item_id).first()


def item_titles(item_ids: Iterable[str]) -> dict[str, str]:
    """Titles of the items events point at, in one query: ``{item_id: title}``; ids the
    catalogue does not hold (e-resources, programmes) are simply absent."""
    wanted = {i for i in item_ids if i}
    if not wanted:
        return {}
    rows = Item.objects.filter(item_id__in=wanted).values_list("item_id", "title", "subtitle")
    return {
        item_id: f"{title} : {subtitle}" if subtitle else title for item_id, title, subtitle in rows
    }


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


def class_labels(codes: Iterable[str], language: str | None = None) -> dict[str, ClassLabel]:
    """The nearest named class of each class number events carry (``subject``), in one query.

    Events do not say which scheme their code belongs to; CLC is tried first (the scheme of
    Chinese libraries), then DDC for numbers and LCC for letters. Codes that are not notation
    of any scheme, or whose classes are not loaded, are absent from the answer.
    """
    numbers: dict[str, ClassNumber] = {}
    for code in {c for c in codes if c}:
        for scheme in (Scheme.CLC, Scheme.DDC, Scheme.LCC):
            try:
                numbers[code] = parse_code(scheme, code)
                break
            except InvalidClassNumber:
                continue
    if not numbers:
        return {}
    chinese = (language or get_language() or "").lower().startswith("zh")
    query = Q()
    for scheme in {n.scheme for n in numbers.values()}:
        steps = {step for n in numbers.values() if n.scheme is scheme for step in n.path}
        query |= Q(scheme=scheme.value, code__in=steps)
    named = {(n.scheme, n.code): n for n in Classification.objects.filter(query)}
    labels: dict[str, ClassLabel] = {}
    for code, number in numbers.items():
        for step in reversed(number.path):
            node = named.get((number.scheme.value, step))
            if node is not None:
                label = node.label_zh if chinese else node.label_en
                labels[code] = ClassLabel(node.code, notation(number.scheme, node.code), label)
                break
    return labels


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
