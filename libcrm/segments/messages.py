"""What the rule checker says, in English and Simplified Chinese.

The checker (:mod:`.rules`) returns codes and parameters, never sentences, so that the API can
hand both to a program and the console can show the sentence in the reader's language. Pure:
no Django (the core runs in workers and benchmarks without settings).
"""

from __future__ import annotations

from typing import Any

TYPE_WORDS: dict[str, tuple[str, str]] = {
    "int": ("a whole number", "整数"),
    "float": ("a number", "数值"),
    "number": ("a number", "数值"),
    "date": ("a date", "日期"),
    "text": ("text", "文本"),
    "list": ("a list", "列表"),
    "bool": ("true or false", "是/否"),
    "null": ("empty (null)", "空值（null）"),
    "object": ("an object", "对象"),
}

MESSAGES: dict[str, tuple[str, str]] = {
    "not_condition": (
        "expected a condition (a JSON object), found {found}",
        "此处应为一个条件（JSON 对象），实际为{found}",
    ),
    "ambiguous_condition": (
        "a condition has exactly one of all, any, not, field, segment; found {keys}",
        "一个条件只能含 all、any、not、field、segment 之一，这里同时有 {keys}",
    ),
    "empty_condition": (
        "a condition needs one of all, any, not, field, segment (found keys: {keys})",
        "条件须含 all、any、not、field、segment 之一（现有键：{keys}）",
    ),
    "unknown_key": (
        "unknown key {key}",
        "未知的键 {key}",
    ),
    "not_list": (
        "{key} takes a list of conditions, found {found}",
        "{key} 后应为条件列表，实际为{found}",
    ),
    "empty_group": (
        "{key} needs at least one condition",
        "{key} 至少需要一个条件",
    ),
    "too_deep": (
        "conditions are nested too deeply (at most {max} levels, counting referenced segments)",
        "条件嵌套过深（最多 {max} 层，含所引用的分群）",
    ),
    "too_many_conditions": (
        "the rule has too many conditions (at most {max}, counting referenced segments)",
        "规则中的条件过多（最多 {max} 个，含所引用的分群）",
    ),
    "unknown_field": (
        "unknown field {field}",
        "未知字段 {field}",
    ),
    "unknown_field_hint": (
        "unknown field {field}; did you mean {suggestion}?",
        "未知字段 {field}；是否想用 {suggestion}？",
    ),
    "unknown_op": (
        "unknown operator {op}; this field takes {ops}",
        "未知运算符 {op}；该字段可用 {ops}",
    ),
    "op_not_for_type": (
        "{op} does not apply to {field}, which is {type}; use one of {ops}",
        "{op} 不适用于{type}字段 {field}；可用 {ops}",
    ),
    "type_mismatch": (
        "{value} is {kind} but {field} is {type}",
        "{value} 是{kind}，但 {field} 是{type}",
    ),
    "not_whole": (
        "{value} is not a whole number, but {field} counts whole units",
        "{value} 不是整数，而 {field} 以整数计",
    ),
    "out_of_range": (
        "{value} is not a number libcrm can compare (too large, or not finite)",
        "{value} 不是可比较的数值（过大或非有限值）",
    ),
    "value_too_long": (
        "the value is longer than {max} characters",
        "取值超过 {max} 个字符",
    ),
    "bad_date": (
        "{value} is not a date (YYYY-MM-DD) nor an offset from the as-of date such as -30d",
        "{value} 既不是日期（YYYY-MM-DD），也不是相对计算日的偏移（如 -30d）",
    ),
    "missing_value": (
        "{op} needs a value",
        "{op} 需要一个取值",
    ),
    "unexpected_value": (
        "{op} takes no value",
        "{op} 不需要取值",
    ),
    "bad_shape": (
        "{op} takes {shape}, found {found}",
        "{op} 的取值应为 {shape}，实际为 {found}",
    ),
    "range_reversed": (
        "the range starts at {low}, after its end {high}",
        "区间起点 {low} 在终点 {high} 之后",
    ),
    "empty_list": (
        "{op} needs at least one value",
        "{op} 至少需要一个取值",
    ),
    "list_too_long": (
        "the list has {n} values; at most {max} are allowed",
        "列表有 {n} 个取值，最多允许 {max} 个",
    ),
    "bad_days": (
        "days must be a whole number from 1 to {max}, found {value}",
        "天数应为 1 到 {max} 之间的整数，实际为 {value}",
    ),
    "window_open": (
        "the window needs {key} (an offset such as -90d): open windows are not allowed",
        "时间窗须给出 {key}（如 -90d）：不允许开放的时间窗",
    ),
    "bad_offset": (
        "{value} is not an offset from the as-of date such as -90d, +2w, 0d or today",
        "{value} 不是相对计算日的偏移（如 -90d、+2w、0d 或 today）",
    ),
    "window_reversed": (
        "the window ends ({end}) before it starts ({start})",
        "时间窗的结束（{end}）早于开始（{start}）",
    ),
    "window_too_long": (
        "the window spans {days} days; at most {max} are allowed",
        "时间窗跨 {days} 天，最多允许 {max} 天",
    ),
    "bad_slug": (
        "segment takes the slug of a segment (text), found {found}",
        "segment 的取值应为分群标识（文本），实际为{found}",
    ),
    "unknown_segment": (
        "unknown segment {slug}",
        "未知分群 {slug}",
    ),
    "cycle": (
        "segments refer to each other in a cycle: {cycle}",
        "分群之间循环引用：{cycle}",
    ),
    "segment_invalid": (
        "segment {slug} cannot run: {detail}",
        "分群 {slug} 无法运行：{detail}",
    ),
    # fields of the definition itself (save_segment)
    "bad_identifier": (
        "use lower-case letters, digits and hyphens (at most 80), found {value}",
        "请使用小写字母、数字和连字符（最多 80 个），实际为 {value}",
    ),
    "required": ("this field is required", "此项为必填"),
    "too_long": ("at most {max} characters", "最多 {max} 个字符"),
    "bad_kind": (
        "the kind is tag or segment, found {value}",
        "类型应为 tag 或 segment，实际为 {value}",
    ),
    "no_rule": ("segment {slug} has no rule yet", "分群 {slug} 尚无规则"),
}


def render(code: str, params: dict[str, Any], lang: str = "en") -> str:
    """The sentence for ``code`` with ``params`` filled in, in ``lang`` (en or zh)."""
    zh = lang.lower().startswith("zh")
    if code == "unknown_field" and params.get("suggestion"):
        code = "unknown_field_hint"
    template = MESSAGES.get(code, (code, code))[1 if zh else 0]
    filled = {
        k: (
            TYPE_WORDS[v][1 if zh else 0]
            if k in ("kind", "type", "found") and v in TYPE_WORDS
            else v
        )
        for k, v in params.items()
    }
    if code == "segment_invalid" and zh and isinstance(params.get("detail_zh"), str):
        filled["detail"] = params["detail_zh"]
    try:
        return template.format(**filled)
    except (KeyError, IndexError):
        return template
