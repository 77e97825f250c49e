"""A valid rule as SQL: a sqlglot syntax tree over the profile relation (one row per
``patron_key``), printed for DuckDB or Spark — the one definition both engines run
(ARCHITECTURE decision 3).

Values reach the SQL only as sqlglot literals, field names only as quoted identifiers checked
against the catalogue; no text is glued. Relative dates are resolved against ``as_of`` here, so
both engines compare plain dates. Pure: no Django.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlglot import exp

from libcrm.segments.rules import (
    GROUPS,
    Catalogue,
    Field,
    Limits,
    Resolver,
    check,
    parse_offset,
    resolve_date,
)

KEY = "patron_key"


@dataclass(frozen=True)
class Leaf:
    """One field condition of a compiled rule: its reason column is ``c<index>``."""

    index: int
    path: str  # where it is written: in the rule itself, or in a referenced segment's rule
    via: tuple[str, ...]  # the segments it came through ((): the rule itself)
    field: str
    op: str
    value: Any

    @property
    def column(self) -> str:
        return f"c{self.index}"


@dataclass(frozen=True)
class CompiledRule:
    """The membership test of a rule and one test per field condition (the reasons)."""

    condition: exp.Expression
    leaves: tuple[Leaf, ...]
    tests: tuple[exp.Expression, ...]  # per leaf, never NULL
    fields: tuple[str, ...]  # the fields the rule reads, in first-use order
    _printed: dict[tuple[str, bool], str] = field(default_factory=dict, compare=False, repr=False)

    def query(
        self, relation: str | exp.Expression, *, reasons: bool = True, patron_key: str | None = None
    ) -> exp.Select:
        """``SELECT patron_key[, c0 … cN, the fields read] FROM relation WHERE …`` in key
        order; with ``patron_key``, only that patron (a member page's "why"). ``relation`` is
        a table name or a table expression (such as a Parquet scan)."""
        columns: list[exp.Expression] = [_col(KEY)]
        if reasons:
            columns += [
                exp.alias_(t.copy(), leaf.column, quoted=True)
                for leaf, t in zip(self.leaves, self.tests, strict=True)
            ]
            columns += [_col(name) for name in self.fields if name != KEY]
        where = self.condition.copy()
        if patron_key is not None:
            where = exp.and_(
                exp.EQ(this=_col(KEY), expression=exp.Literal.string(patron_key)), where
            )
        return exp.select(*columns).from_(_table(relation)).where(where).order_by(_col(KEY))

    def sql(
        self,
        relation: str | exp.Expression,
        dialect: str = "duckdb",
        *,
        reasons: bool = True,
        patron_key: str | None = None,
    ) -> str:
        """The query as text for ``dialect`` (``duckdb`` or ``spark``). Printing costs about a
        millisecond, as much as the query on a profile of 100,000 rows, so the text is kept
        per dialect with a placeholder for the relation (a name or scan sqlglot printed)."""
        if patron_key is not None:  # one patron's "why": not worth keeping
            return self.query(relation, reasons=reasons, patron_key=patron_key).sql(dialect=dialect)
        key = (dialect, reasons)
        text = self._printed.get(key)
        if text is None:
            text = self.query(_PLACEHOLDER, reasons=reasons).sql(dialect=dialect)
            self._printed[key] = text
        return text.replace(
            _table(_PLACEHOLDER).sql(dialect=dialect), _table(relation).sql(dialect=dialect)
        )


def compile_rule(
    rule: Any,
    catalogue: Catalogue,
    as_of: date,
    resolve: Resolver | None = None,
    *,
    slug: str | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen, never mutated
) -> CompiledRule:
    """The SQL of ``rule`` as of ``as_of`` (raises :class:`~.rules.InvalidRule` first if it
    has problems). Referenced segments are inlined through ``resolve``."""
    check(rule, catalogue, resolve, slug=slug, limits=limits)
    key = _fingerprint(rule, catalogue, as_of, resolve)
    with _guard:
        found = _compiled.get(key)
    if found is not None:
        return found
    build = _Builder(catalogue, as_of, resolve)
    condition = build.node(rule, "", ())
    fields: list[str] = []
    for leaf in build.leaves:
        if leaf.field not in fields:
            fields.append(leaf.field)
    compiled = CompiledRule(condition, tuple(build.leaves), tuple(build.tests), tuple(fields))
    with _guard:
        _compiled[key] = compiled
        while len(_compiled) > _KEEP:
            _compiled.popitem(last=False)
    return compiled


# Compiled rules by what they depend on: the rule, every rule it refers to, the types of the
# fields and the as-of date. A live count in the builder or a snapshot run recompiles nothing.
_KEEP = 256
_compiled: OrderedDict[str, CompiledRule] = OrderedDict()
_guard = threading.Lock()
_PLACEHOLDER = "__libcrm_profile__"


def _fingerprint(rule: Any, catalogue: Catalogue, as_of: date, resolve: Resolver | None) -> str:
    referenced: dict[str, Any] = {}
    pending = [rule]
    while pending:  # check() has bounded the references and ruled out cycles
        node = pending.pop()
        if isinstance(node, dict):
            slug = node.get("segment")
            if isinstance(slug, str) and slug not in referenced and resolve is not None:
                referenced[slug] = resolve(slug)
                pending.append(referenced[slug])
            pending.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            pending.extend(node)
    types = sorted((f.name, f.type) for f in catalogue.values())
    return json.dumps([rule, referenced, types, as_of.isoformat()], sort_keys=True, default=str)


def _table(relation: str | exp.Expression) -> exp.Expression:
    if isinstance(relation, exp.Expression):
        return relation
    return exp.Table(this=exp.to_identifier(relation, quoted=True))


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


class _Builder:
    def __init__(self, catalogue: Catalogue, as_of: date, resolve: Resolver | None) -> None:
        self.catalogue = catalogue
        self.as_of = as_of
        self.resolve = resolve
        self.leaves: list[Leaf] = []
        self.tests: list[exp.Expression] = []

    def node(self, node: dict[str, Any], path: str, via: tuple[str, ...]) -> exp.Expression:
        for kind in GROUPS:
            if kind in node:
                parts = [self.node(c, f"{path}/{kind}/{i}", via) for i, c in enumerate(node[kind])]
                combine = exp.and_ if kind == "all" else exp.or_
                return exp.Paren(this=combine(*parts)) if len(parts) > 1 else parts[0]
        if "not" in node:
            # SQL's NOT keeps NULL: a patron without the value would match neither a condition
            # nor its negation. Within the rule a missing value fails the condition, so its
            # negation holds; outside a NOT, NULL already filters like FALSE.
            inner = self.node(node["not"], f"{path}/not", via)
            return exp.Not(this=_never_null(inner))
        if "segment" in node:
            slug = node["segment"]
            assert self.resolve is not None  # check() has resolved it
            rule = self.resolve(slug)
            return exp.Paren(this=self.node(rule, "", (*via, slug)))  # type: ignore[arg-type]
        return self.condition(node, path, via)

    def condition(self, node: dict[str, Any], path: str, via: tuple[str, ...]) -> exp.Expression:
        f = self.catalogue[node["field"]]
        op, value = node["op"], node.get("value")
        test = self.test(f, op, value)
        self.leaves.append(Leaf(len(self.leaves), path, via, f.name, op, copy.deepcopy(value)))
        self.tests.append(_never_null(test.copy()))
        return test

    def test(self, f: Field, op: str, value: Any) -> exp.Expression:
        col = _col(f.name)
        if op == "is_set":
            return self.is_set(f, col)
        if op == "is_not_set":
            return exp.Not(this=exp.Paren(this=self.is_set(f, col)))
        if op == "within":
            start = self.as_of - timedelta(days=int(value["days"]) - 1)
            return exp.Between(this=col, low=_date(start), high=_date(self.as_of))
        if op == "in_window":
            lo = self.as_of + timedelta(days=parse_offset(value["from"]) or 0)
            hi = self.as_of + timedelta(days=parse_offset(value["to"]) or 0)
            return exp.Between(this=col, low=_date(lo), high=_date(hi))
        if op == "between":
            return exp.Between(
                this=col, low=self.literal(f, value[0]), high=self.literal(f, value[1])
            )
        if op in ("in", "not_in"):
            found = col.isin(*(self.literal(f, v) for v in value))
            return found if op == "in" else exp.Not(this=found)
        if op == "contains":
            return exp.ArrayContains(this=col, expression=exp.Literal.string(value))
        operator = {
            "=": exp.EQ,
            "!=": exp.NEQ,
            "<": exp.LT,
            "<=": exp.LTE,
            ">": exp.GT,
            ">=": exp.GTE,
        }[op]
        return operator(this=col, expression=self.literal(f, value))

    def is_set(self, f: Field, col: exp.Column) -> exp.Expression:
        # Never NULL: FALSE AND NULL is FALSE.
        present = exp.Not(this=exp.Is(this=col.copy(), expression=exp.Null()))
        if f.type == "list":
            size = exp.GT(this=exp.ArraySize(this=col.copy()), expression=exp.Literal.number(0))
            return exp.and_(present, size)
        if f.type == "text":
            return exp.and_(present, exp.NEQ(this=col.copy(), expression=exp.Literal.string("")))
        return present

    def literal(self, f: Field, value: Any) -> exp.Expression:
        if f.type == "date":
            day = resolve_date(value, self.as_of)
            assert day is not None  # check() has read it
            return _date(day)
        if f.type == "bool":
            return exp.Boolean(this=bool(value))
        if f.type in ("int", "float"):
            number = int(value) if f.type == "int" else value
            return exp.Literal.number(number)
        return exp.Literal.string(str(value))


def _date(day: date) -> exp.Expression:
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.Type.DATE)


def _never_null(test: exp.Expression) -> exp.Expression:
    return exp.Coalesce(this=test, expressions=[exp.false()])
