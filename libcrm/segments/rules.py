"""The rule language of tags and segments (标签与用户分群): a JSON tree a librarian writes once,
checked here against the feature catalogue before anything runs or is saved.

A rule is ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``, a condition on one field
``{"field": name, "op": op, "value": ...}`` or the membership of another segment
``{"segment": slug}``. :func:`validate` returns every problem as a :class:`RuleError` whose
``path`` points into the rule like a JSON pointer (``/all/2/value``); :mod:`.compiler` turns a
valid rule into SQL. Pure: no Django.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from libcrm.segments.messages import render

FIELD_TYPES = ("int", "float", "date", "text", "list", "bool")
NUMBER_TYPES = ("int", "float")
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
OPS = (
    *COMPARISONS,
    "between",
    "in",
    "not_in",
    "contains",
    "is_set",
    "is_not_set",
    "within",
    "in_window",
)
_OPS_FOR: dict[str, tuple[str, ...]] = {
    "int": (*COMPARISONS, "between", "in", "not_in", "is_set", "is_not_set"),
    "float": (*COMPARISONS, "between", "is_set", "is_not_set"),
    "date": (*COMPARISONS, "between", "is_set", "is_not_set", "within", "in_window"),
    "text": ("=", "!=", "in", "not_in", "is_set", "is_not_set"),
    "list": ("contains", "is_set", "is_not_set"),
    "bool": ("=", "!=", "is_set", "is_not_set"),
}
GROUPS = ("all", "any")
MAX_NUMBER = 2**53  # integers beyond this are not exact in a double, nor in JSON readers
MAX_TEXT = 1000  # characters of one text value
NODE_KEYS = ("all", "any", "not", "field", "segment")
_OFFSET = re.compile(r"^(?:today|([+-]?\d{1,5})([dw]))$")

Resolver = Callable[[str], "dict[str, Any] | None"]
"""slug → the rule of that segment as it runs (its parent's rule ANDed in), or None."""


@dataclass(frozen=True)
class Limits:
    """What stops a rule from asking for unbounded work."""

    max_depth: int = 8  # nested all / any / not, counting referenced segments
    max_conditions: int = 64  # field conditions, counting referenced segments
    max_list: int = 1000  # values of one in / not_in
    max_window_days: int = 3650  # within and in_window: at most ten years


@dataclass(frozen=True)
class Field:
    """A column of the profile a rule may name (a feature or a patron attribute)."""

    name: str
    type: str  # one of FIELD_TYPES
    label: str = ""
    label_zh: str = ""


Catalogue = Mapping[str, Field]


def catalogue_of(items: Iterable[Any] | Mapping[str, Any]) -> dict[str, Field]:
    """A catalogue from ``{name: type}``, from :class:`Field` objects or from anything with
    ``name`` and ``type`` (such as ``libcrm.features.definitions.Feature``: its label and
    ``label_zh`` are kept)."""
    out: dict[str, Field] = {}
    if isinstance(items, Mapping):
        for name, spec in items.items():
            if isinstance(spec, str):
                out[name] = Field(name, spec)
            else:
                out[name] = _field(spec)
        return out
    for item in items:
        f = _field(item)
        out[f.name] = f
    return out


def _field(item: Any) -> Field:
    kind = str(getattr(item.type, "value", item.type))
    if kind not in FIELD_TYPES:
        raise ValueError(f"field {item.name}: type {kind!r} is not one of {FIELD_TYPES}")
    return Field(item.name, kind, getattr(item, "label", ""), getattr(item, "label_zh", ""))


@dataclass(frozen=True)
class RuleError:
    """One problem in a rule: where (``path``), what (``code``) and the details (``params``)."""

    path: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str = "en") -> str:
        """The problem in English (``en``) or Simplified Chinese (``zh``), prefixed with its
        path: ``/all/2/value: "abc" is text but loans_365d is a number``."""
        return f"{self.path or '/'}: {render(self.code, self.params, lang)}"

    def as_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "path": self.path,
            "code": self.code,
            "params": self.params,
            "message": render(self.code, self.params, lang),
        }


class InvalidRule(ValueError):
    """A rule that cannot be run or saved; ``errors`` says where and why."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("; ".join(e.message() for e in errors))


def effective_rule(rule: dict[str, Any], parent: str | None) -> dict[str, Any]:
    """The rule a child segment runs: its own, ANDed with its parent's membership
    (研究生 → 一年级研究生 → 计算机学院)."""
    return rule if parent is None else {"all": [{"segment": parent}, rule]}


def show(value: Any) -> str:
    """A value as the librarian wrote it (JSON, Chinese kept readable)."""
    return json.dumps(value, ensure_ascii=False)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def value_kind(value: Any) -> str:
    """The kind of a JSON value, in the words of the messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    return "object"


def parse_offset(text: Any) -> int | None:
    """Days from the as-of date of ``-30d``, ``+2w``, ``0d`` or ``today``; None if not one."""
    if not isinstance(text, str):
        return None
    m = _OFFSET.match(text.strip())
    if m is None:
        return None
    if m.group(1) is None:
        return 0
    n = int(m.group(1))
    return n * 7 if m.group(2) == "w" else n


def resolve_date(value: Any, as_of: date) -> date | None:
    """An ISO date, or an offset from ``as_of`` (``-30d``); None if neither."""
    offset = parse_offset(value)
    if offset is not None:
        return as_of + timedelta(days=offset)
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def validate(
    rule: Any,
    catalogue: Catalogue,
    resolve: Resolver | None = None,
    *,
    slug: str | None = None,
    parent: str | None = None,
    limits: Limits = Limits(),
) -> list[RuleError]:
    """Every problem of ``rule`` (empty when it can run). ``resolve`` gives the rules of the
    segments it refers to; ``slug`` is the rule's own segment and ``parent`` the segment it
    sits under (problems with the parent have the path ``parent``), both for cycles."""
    check = _Checker(catalogue, resolve, limits)
    stack = (slug,) if slug else ()
    if parent is not None:
        check.reference(parent, "parent", stack, 0)
    check.node(rule, "", stack, 0)
    return check.errors


class _Checker:
    def __init__(self, catalogue: Catalogue, resolve: Resolver | None, limits: Limits) -> None:
        self.catalogue = catalogue
        self.resolve = resolve
        self.limits = limits
        self.errors: list[RuleError] = []
        self.conditions = 0
        self.too_deep = False
        self.too_many = False

    def error(self, path: str, code: str, **params: Any) -> None:
        self.errors.append(RuleError(path, code, params))

    def node(self, node: Any, path: str, stack: tuple[str, ...], depth: int) -> None:
        if self.too_many:
            return
        if not isinstance(node, dict):
            self.error(path, "not_condition", found=value_kind(node))
            return
        keys = [k for k in NODE_KEYS if k in node]
        if len(keys) != 1:
            if keys:
                self.error(path, "ambiguous_condition", keys=", ".join(keys))
            else:
                self.error(path, "empty_condition", keys=", ".join(sorted(map(str, node))))
            return
        kind = keys[0]
        allowed = {"field", "op", "value"} if kind == "field" else {kind}
        for extra in sorted(set(map(str, node)) - allowed):
            self.error(f"{path}/{_escape(extra)}", "unknown_key", key=extra)
        if (kind in GROUPS or kind == "not") and depth + 1 > self.limits.max_depth:
            if not self.too_deep:
                self.error(path, "too_deep", max=self.limits.max_depth)
            self.too_deep = True
            return
        if kind in GROUPS:
            children = node[kind]
            if not isinstance(children, list):
                self.error(f"{path}/{kind}", "not_list", key=kind, found=value_kind(children))
                return
            if not children:
                self.error(f"{path}/{kind}", "empty_group", key=kind)
            for i, child in enumerate(children):
                self.node(child, f"{path}/{kind}/{i}", stack, depth + 1)
        elif kind == "not":
            self.node(node["not"], f"{path}/not", stack, depth + 1)
        elif kind == "segment":
            self.reference(node["segment"], f"{path}/segment", stack, depth)
        else:
            self.condition(node, path)

    def reference(self, slug: Any, path: str, stack: tuple[str, ...], depth: int) -> None:
        if not isinstance(slug, str) or not slug:
            self.error(path, "bad_slug", found=value_kind(slug))
            return
        if slug in stack:
            cycle = " → ".join((*stack[stack.index(slug) :], slug))
            self.error(path, "cycle", cycle=cycle)
            return
        rule = self.resolve(slug) if self.resolve is not None else None
        if rule is None:
            self.error(path, "unknown_segment", slug=slug)
            return
        inner = _Checker(self.catalogue, self.resolve, self.limits)
        inner.conditions = self.conditions
        inner.node(rule, "", (*stack, slug), depth)
        self.conditions = inner.conditions
        for e in inner.errors:
            if e.code == "cycle":
                self.error(path, "cycle", **e.params)
            elif e.code in ("too_deep", "too_many_conditions"):
                if e.code == "too_deep" and not self.too_deep:
                    self.error(path, e.code, **e.params)
                if e.code == "too_many_conditions" and not self.too_many:
                    self.error(path, e.code, **e.params)
            else:
                self.error(
                    path,
                    "segment_invalid",
                    slug=slug,
                    detail=e.message("en"),
                    detail_zh=e.message("zh"),
                )
                break  # one is enough to send the librarian to that segment
        self.too_deep |= inner.too_deep
        self.too_many |= inner.too_many

    def condition(self, node: dict[str, Any], path: str) -> None:
        self.conditions += 1
        if self.conditions > self.limits.max_conditions:
            self.error(path, "too_many_conditions", max=self.limits.max_conditions)
            self.too_many = True
            return
        name = node["field"]
        if not isinstance(name, str) or name not in self.catalogue:
            hint = None
            if isinstance(name, str):
                close = difflib.get_close_matches(name, list(self.catalogue), n=1, cutoff=0.6)
                hint = close[0] if close else None
            self.error(f"{path}/field", "unknown_field", field=show(name), suggestion=hint)
            return
        f = self.catalogue[name]
        op = node.get("op")
        if op not in OPS:
            self.error(f"{path}/op", "unknown_op", op=show(op), ops=", ".join(_OPS_FOR[f.type]))
            return
        if op not in _OPS_FOR[f.type]:
            self.error(
                f"{path}/op",
                "op_not_for_type",
                op=op,
                field=name,
                type=f.type,
                ops=", ".join(_OPS_FOR[f.type]),
            )
            return
        vpath = f"{path}/value"
        if op in ("is_set", "is_not_set"):
            if node.get("value") is not None:
                self.error(vpath, "unexpected_value", op=op)
            return
        if "value" not in node:
            self.error(vpath, "missing_value", op=op)
            return
        value = node["value"]
        if op in COMPARISONS or op == "contains":
            self.scalar(value, f, vpath)
        elif op == "between":
            self.between(value, f, vpath)
        elif op in ("in", "not_in"):
            self.values(value, f, vpath, op)
        elif op == "within":
            self.within(value, vpath)
        else:
            self.window(value, vpath)

    def scalar(self, value: Any, f: Field, path: str) -> bool:
        kind = value_kind(value)
        want = "text" if f.type == "list" else f.type
        ok = {
            "int": kind == "number",
            "float": kind == "number",
            "text": kind == "text",
            "bool": kind == "bool",
            "date": kind == "text",
        }[want]
        if not ok:
            self.error(path, "type_mismatch", value=show(value), kind=kind, field=f.name, type=want)
            return False
        if kind == "number" and not (math.isfinite(value) and abs(value) <= MAX_NUMBER):
            self.error(path, "out_of_range", value=show(value))
            return False
        if kind == "text" and len(value) > MAX_TEXT:
            self.error(path, "value_too_long", max=MAX_TEXT)
            return False
        if want == "int" and isinstance(value, float) and not value.is_integer():
            self.error(path, "not_whole", value=show(value), field=f.name)
            return False
        if want == "date" and resolve_date(value, date(2000, 1, 1)) is None:
            self.error(path, "bad_date", value=show(value))
            return False
        return True

    def between(self, value: Any, f: Field, path: str) -> None:
        if not isinstance(value, list) or len(value) != 2:
            self.error(path, "bad_shape", op="between", shape="[low, high]", found=show(value))
            return
        lo_ok = self.scalar(value[0], f, f"{path}/0")
        hi_ok = self.scalar(value[1], f, f"{path}/1")
        if lo_ok and hi_ok:
            lo, hi = value
            if f.type == "date":
                # Two offsets or two dates can be ordered now; a date and an offset only on
                # the day the rule runs (then a reversed range simply matches nobody).
                lo_off, hi_off = parse_offset(lo), parse_offset(hi)
                if (lo_off is None) != (hi_off is None):
                    return
                if lo_off is not None:
                    lo, hi = lo_off, hi_off
            if lo is not None and hi is not None and lo > hi:
                self.error(path, "range_reversed", low=show(value[0]), high=show(value[1]))

    def values(self, value: Any, f: Field, path: str, op: str) -> None:
        if not isinstance(value, list):
            self.error(path, "bad_shape", op=op, shape="[value, ...]", found=show(value))
            return
        if not value:
            self.error(path, "empty_list", op=op)
            return
        if len(value) > self.limits.max_list:
            self.error(path, "list_too_long", n=len(value), max=self.limits.max_list)
            return
        for i, v in enumerate(value):
            if not self.scalar(v, f, f"{path}/{i}"):
                return  # one wrong value says enough

    def within(self, value: Any, path: str) -> None:
        if not isinstance(value, dict) or set(value) != {"days"}:
            self.error(path, "bad_shape", op="within", shape='{"days": N}', found=show(value))
            return
        days = value["days"]
        whole = is_number(days) and float(days).is_integer()
        if not whole or not 1 <= days <= self.limits.max_window_days:
            self.error(
                f"{path}/days", "bad_days", value=show(days), max=self.limits.max_window_days
            )

    def window(self, value: Any, path: str) -> None:
        shape = '{"from": "-90d", "to": "-30d"}'
        if not isinstance(value, dict):
            self.error(path, "bad_shape", op="in_window", shape=shape, found=show(value))
            return
        for extra in sorted(set(map(str, value)) - {"from", "to"}):
            self.error(f"{path}/{_escape(extra)}", "unknown_key", key=extra)
        if "from" not in value:
            self.error(path, "window_open", key="from")
        if "to" not in value:
            self.error(path, "window_open", key="to")
        ends = {}
        for key in ("from", "to"):
            if key in value:
                ends[key] = parse_offset(value[key])
                if ends[key] is None:
                    self.error(f"{path}/{key}", "bad_offset", value=show(value[key]))
        start, end = ends.get("from"), ends.get("to")
        if start is None or end is None:
            return
        if end < start:
            self.error(path, "window_reversed", start=value["from"], end=value["to"])
        elif end - start + 1 > self.limits.max_window_days:
            self.error(
                path, "window_too_long", days=end - start + 1, max=self.limits.max_window_days
            )


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def check(
    rule: Any,
    catalogue: Catalogue,
    resolve: Resolver | None = None,
    **kwargs: Any,
) -> None:
    """Raises :class:`InvalidRule` with every problem of ``rule``, if it has any."""
    errors = validate(rule, catalogue, resolve, **kwargs)
    if errors:
        raise InvalidRule(errors)
