"""The behavioural features of a patron (用户行为特征): the catalogue a librarian reads in the
segment builder, and their computation, written once as an Ibis expression over the event
store's rows so that DuckDB and Spark run the very same definition (ARCHITECTURE decision 3).

Pure: no Django. Time windows are whole days in the library's time zone ending on ``as_of``;
the store keeps UTC, so local time is UTC plus the zone's offset, written as a CASE over the
zone's transitions in the period (exact for zones with daylight saving, one constant for
Asia/Shanghai) — the same arithmetic on every engine, whatever its session zone.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from libcrm.catalog.classification import Scheme, top_class
from libcrm.catalog.errors import InvalidClassNumber

WINDOWS: tuple[int, ...] = (30, 90, 365)
"""Window lengths in days; a window of N days ends on (and includes) the as-of date."""
HABIT_WINDOW = 365
"""Shares, subjects and satisfaction describe the last year's habits."""
TOP_SUBJECTS = 3
NIGHT_FROM, NIGHT_UNTIL = 22, 6  # local hours: 22:00 up to 06:00
SCORE_ATTRIBUTE = "score"


class FeatureType(StrEnum):
    INT = "int"
    FLOAT = "float"
    DATE = "date"
    TEXT = "text"
    LIST = "list"


@dataclass(frozen=True)
class Feature:
    """One column of the feature table, as a librarian reads it."""

    name: str
    type: FeatureType
    unit: str
    label: str  # English; also the gettext msgid
    label_zh: str
    description: str
    description_zh: str
    topic: str  # the heading it sits under in the segment builder
    items: FeatureType = FeatureType.TEXT  # what a list holds

    @property
    def arrow_type(self) -> pa.DataType:
        if self.type is FeatureType.LIST:
            return pa.list_(_ARROW[self.items])
        return _ARROW[self.type]


_ARROW = {
    FeatureType.INT: pa.int64(),
    FeatureType.FLOAT: pa.float64(),
    FeatureType.DATE: pa.date32(),
    FeatureType.TEXT: pa.string(),
    FeatureType.LIST: pa.list_(pa.string()),
}


@dataclass(frozen=True)
class ActivityGroup:
    """Event types counted together, in the library's words."""

    name: str
    label: str
    label_zh: str
    types: tuple[str, ...]


# Not the patron's own behaviour: the end of a visit already counted by gate_in, messages the
# library sent, and facts third parties report (course enrolment, research output).
NOT_ACTIVITY: tuple[str, ...] = ("gate_out", "message_out", "course_enrolment", "research_output")

GROUPS: tuple[ActivityGroup, ...] = (
    ActivityGroup(
        "visits",
        "visits",
        "到馆",
        ("gate_in", "space_24h_use", "mobile_library_visit", "community_point_visit"),
    ),
    ActivityGroup("loans", "loans", "借阅", ("loan",)),
    ActivityGroup(
        "digital",
        "digital resource uses",
        "数字资源使用",
        ("eresource_access", "download", "reading_session"),
    ),
    ActivityGroup("programs", "programme attendances", "活动参与", ("program_attendance",)),
    ActivityGroup(
        "spaces", "space uses", "空间使用", ("space_booking", "space_checkin", "space_24h_use")
    ),
    ActivityGroup(
        "feedback",
        "feedback given",
        "意见与问卷",
        ("feedback", "survey_answer", "purchase_suggestion"),
    ),
    ActivityGroup(
        "messages",
        "messages and questions",
        "留言与咨询",
        ("message_in", "consultation", "social_interaction"),
    ),
    ActivityGroup("online", "website and app visits", "网站与APP访问", ("web_visit", "app_visit")),
)
ALL_GROUP = ActivityGroup("all", "activities of any kind", "各类活动", ())

CHANNEL_GROUPS: tuple[ActivityGroup, ...] = (
    ActivityGroup(
        "physical",
        "in the library (incl. self-service kiosks)",
        "馆内（含自助机）",
        ("physical", "kiosk"),
    ),
    ActivityGroup("web", "on the website", "网站", ("web",)),
    ActivityGroup("app", "in the app", "APP", ("app",)),
    ActivityGroup("wechat", "on WeChat", "微信", ("wechat",)),
    ActivityGroup(
        "social",
        "on Weibo, Douyin or Bilibili",
        "微博、抖音、哔哩哔哩",
        ("weibo", "douyin", "bilibili"),
    ),
    ActivityGroup("remote", "by e-mail or phone", "邮件或电话", ("email", "phone")),
)
TWENTY_FOUR_HOUR_TYPES = ("gate_in", "space_checkin")
"""Besides space_24h_use events, these count as 24-hour-space use at a 24-hour branch."""
SCORED_TYPES = ("survey_answer", "feedback")


def _catalogue() -> tuple[Feature, ...]:
    out: list[Feature] = []
    for g in (ALL_GROUP, *GROUPS):
        for n in WINDOWS:
            out.append(
                Feature(
                    f"{g.name}_events_{n}d",
                    FeatureType.INT,
                    "events",
                    f"Number of {g.label}, last {n} days",
                    f"近{n}天{g.label_zh}次数",
                    f"How many {g.label} the patron made in the {n} days ending on the as-of "
                    "date (library time zone).",
                    f"截至计算日（含）的{n}天内，读者的{g.label_zh}次数（按本馆时区）。",
                    g.name,
                )
            )
            out.append(
                Feature(
                    f"{g.name}_days_{n}d",
                    FeatureType.INT,
                    "days",
                    f"Days with {g.label}, last {n} days",
                    f"近{n}天{g.label_zh}天数",
                    f"On how many different days the patron had {g.label} in the {n} days "
                    "ending on the as-of date.",
                    f"截至计算日（含）的{n}天内，读者有{g.label_zh}的天数。",
                    g.name,
                )
            )
    for c in CHANNEL_GROUPS:
        for n in WINDOWS:
            out.append(
                Feature(
                    f"channel_{c.name}_{n}d",
                    FeatureType.INT,
                    "events",
                    f"Activities {c.label}, last {n} days",
                    f"近{n}天{c.label_zh}渠道活动次数",
                    f"How many activities happened {c.label} in the {n} days ending on the "
                    "as-of date.",
                    f"截至计算日（含）的{n}天内，通过{c.label_zh}渠道的活动次数。",
                    "channels",
                )
            )
    y = HABIT_WINDOW
    out += [
        Feature(
            "days_since_last",
            FeatureType.INT,
            "days",
            "Days since the last activity",
            "距最近一次活动天数",
            "Days from the patron's last activity to the as-of date (0: active that day).",
            "从读者最近一次活动到计算日的天数（0 表示当天有活动）。",
            "recency",
        ),
        Feature(
            "first_seen",
            FeatureType.DATE,
            "date",
            "First activity",
            "首次活动日期",
            "The day of the patron's first recorded activity (library time zone).",
            "读者最早一次有记录的活动日期（本馆时区）。",
            "recency",
        ),
        Feature(
            "last_seen",
            FeatureType.DATE,
            "date",
            "Last activity",
            "最近活动日期",
            "The day of the patron's latest activity up to the as-of date.",
            "截至计算日，读者最近一次活动的日期。",
            "recency",
        ),
        Feature(
            f"night_share_{y}d",
            FeatureType.FLOAT,
            "share 0–1",
            f"Share of activities at night, last {y} days",
            f"近{y}天夜间活动占比",
            "Of the patron's activities in the last year, the share between 22:00 and 06:00 "
            "library time; empty when there were none.",
            "近一年读者活动中发生在本馆时间 22:00 至次日 06:00 之间的比例；无活动时为空。",
            "habits",
        ),
        Feature(
            f"weekend_share_{y}d",
            FeatureType.FLOAT,
            "share 0–1",
            f"Share of activities at weekends, last {y} days",
            f"近{y}天周末活动占比",
            "Of the patron's activities in the last year, the share on Saturdays and Sundays "
            "(library time); empty when there were none.",
            "近一年读者活动中发生在周六、周日（本馆时间）的比例；无活动时为空。",
            "habits",
        ),
        Feature(
            f"space_24h_uses_{y}d",
            FeatureType.INT,
            "events",
            f"Uses of a 24-hour space, last {y} days",
            f"近{y}天24小时自助空间使用次数",
            "Uses of a 24-hour self-service space (城市书房): its own events, and entries and "
            "check-ins at a branch configured as open 24 hours.",
            "24小时自助空间的使用次数：该类事件，加上在设为24小时开放的分馆的入馆与签到。",
            "habits",
        ),
        Feature(
            f"downloads_{y}d",
            FeatureType.INT,
            "events",
            f"Downloads, last {y} days",
            f"近{y}天下载次数",
            "Full texts and files the patron downloaded in the last year.",
            "近一年读者下载全文或文件的次数。",
            "digital",
        ),
        Feature(
            f"satisfaction_answers_{y}d",
            FeatureType.INT,
            "answers",
            f"Scored survey answers, last {y} days",
            f"近{y}天带评分的问卷作答数",
            "Survey answers and feedback that carried a score, in the last year.",
            "近一年带评分的问卷作答与反馈条数。",
            "feedback",
        ),
        Feature(
            f"satisfaction_mean_{y}d",
            FeatureType.FLOAT,
            "score as given (0–10 in the demo)",
            f"Mean satisfaction score, last {y} days",
            f"近{y}天平均满意度",
            "The mean of the scores the patron gave in surveys and feedback in the last year "
            "(the event's quantity, or its 'score' attribute); empty without scored answers.",
            "近一年读者在问卷与反馈中所给评分的平均值（取事件的数量字段或 score 属性）；"
            "无评分时为空。",
            "feedback",
        ),
        Feature(
            f"subject_events_{y}d",
            FeatureType.INT,
            "events",
            f"Activities with a subject, last {y} days",
            f"近{y}天带学科分类的活动次数",
            "Loans, downloads and other activities whose item carries a class number "
            "(CLC 中图法, LCC or DDC), in the last year.",
            "近一年所涉文献带有分类号（中图法、LCC 或 DDC）的借阅、下载等活动次数。",
            "subjects",
        ),
        Feature(
            f"subject_classes_{y}d",
            FeatureType.INT,
            "classes",
            f"Different top-level subject classes, last {y} days",
            f"近{y}天涉及的一级学科大类数",
            "How many different top-level classes (e.g. CLC T, I, O) those activities touch.",
            "上述活动涉及的不同一级大类（如中图法 T、I、O）个数。",
            "subjects",
        ),
        Feature(
            f"top_subjects_{y}d",
            FeatureType.LIST,
            "class codes",
            f"Top subject classes, last {y} days",
            f"近{y}天主要学科大类",
            f"The patron's {TOP_SUBJECTS} most used top-level classes, most used first "
            "(class numbers rolled up the CLC/LCC/DDC hierarchy: TP311.13 counts for T).",
            f"读者使用最多的{TOP_SUBJECTS}个一级大类，按次数从多到少（分类号按中图法等体系"
            "上卷：TP311.13 计入 T）。",
            "subjects",
        ),
        Feature(
            f"top_subject_counts_{y}d",
            FeatureType.LIST,
            "events per class",
            f"Uses of the top subject classes, last {y} days",
            f"近{y}天主要学科大类使用次数",
            "How many activities fell in each of the top classes, in the same order.",
            "上述各主要大类对应的活动次数，顺序相同。",
            "subjects",
            items=FeatureType.INT,
        ),
    ]
    return tuple(out)


FEATURES: tuple[Feature, ...] = _catalogue()
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}
FEATURE_SCHEMA = pa.schema(
    [pa.field("patron_key", pa.string(), nullable=False), pa.field("as_of", pa.date32())]
    + [pa.field(f.name, f.arrow_type) for f in FEATURES]
)
"""The feature table: one row per pseudonymous patron key, in key order, with the as-of date
its windows end on."""

# --- the input ------------------------------------------------------------------------------

EVENT_COLUMNS = {
    "patron_key": "string",
    "occurred_at_us": "int64",
    "type": "string",
    "channel": "string",
    "branch": "string",
    "subject": "string",
    "quantity": "float64",
    "attrs": "map<string, string>",
}
"""The columns of the event store (libcrm.events.schema) the features read. ``occurred_at``
comes as ``occurred_at_us``, microseconds since the epoch (UTC) — what Parquet stores — so
that every engine does the same integer arithmetic on it (zoned timestamp functions cost
several times the rest of the query)."""
ALIAS_COLUMNS = {"old_key": "string", "new_key": "string"}
CLASS_COLUMNS = {"subject": "string", "top_class": "string"}


def subject_classes(
    subjects: Iterable[str | None], schemes: Sequence[str] = ("clc", "lcc", "ddc")
) -> pa.Table:
    """subject → top-level class, for every class number in ``subjects`` that one of
    ``schemes`` (tried in order: CLC first, as Chinese libraries use it) can read; others are
    left out and count for no class."""
    subjects_out, tops = [], []
    for raw in sorted({s for s in subjects if s}):
        for scheme in schemes:
            try:
                tops.append(top_class(Scheme(scheme), raw))
            except InvalidClassNumber:
                continue
            subjects_out.append(raw)
            break
    return pa.table(
        {"subject": pa.array(subjects_out, pa.string()), "top_class": pa.array(tops, pa.string())}
    )


def zone_offsets(tz: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """The UTC offset (seconds) of ``tz`` over [start, end]: the first pair is (start, offset
    there), each later pair the UTC instant a new offset begins."""
    zone = zoneinfo.ZoneInfo(tz)

    def offset(at: datetime) -> int:
        value = at.astimezone(zone).utcoffset()
        return int(value.total_seconds()) if value is not None else 0

    out = [(start, offset(start))]
    step = timedelta(hours=6)
    at = start
    while at < end:
        nxt = min(at + step, end)
        if offset(nxt) != out[-1][1]:
            lo, hi = at, nxt  # the change happens in (lo, hi]: find the exact second
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if offset(mid) == out[-1][1]:
                    lo = mid
                else:
                    hi = mid
            # Zones change offset on whole seconds: the first second with the new offset.
            first = hi.replace(microsecond=0)
            hi = first if offset(first) != out[-1][1] else first + timedelta(seconds=1)
            out.append((hi, offset(hi)))
        at = nxt
    return out


def local_midnight_utc(day: date, tz: str) -> datetime:
    """The UTC instant at which ``day`` begins in ``tz``."""
    return datetime.combine(day, time(0), tzinfo=zoneinfo.ZoneInfo(tz)).astimezone(UTC)


# --- the computation ------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureParams:
    """Everything a feature computation depends on besides the rows."""

    as_of: date
    tz: str
    data_start: datetime  # earliest event time the rows can hold (UTC), for zone offsets
    spaces_24h: tuple[str, ...] = ()  # branch codes of 24-hour self-service spaces

    @property
    def end_utc(self) -> datetime:
        """Rows at or after this instant (the day after as_of, local) are not counted."""
        return local_midnight_utc(self.as_of + timedelta(days=1), self.tz)


EPOCH = date(1970, 1, 1)
DAY_SECONDS = 86_400


def day_number(day: date) -> int:
    """Days since 1970-01-01: the feature expression counts days as integers (cheaper than
    zoned timestamp arithmetic on every engine, and the same on all of them)."""
    return (day - EPOCH).days


def _local_seconds(at_us: ir.IntegerValue, params: FeatureParams) -> ir.IntegerValue:
    """Seconds since the epoch on the library's clock (UTC seconds plus the zone's offset at
    that instant)."""
    utc = at_us // 1_000_000
    offsets = zone_offsets(params.tz, min(params.data_start, params.end_utc), params.end_utc)
    if len(offsets) == 1:
        return utc + offsets[0][1]
    branches = [
        (utc < int(start.timestamp()), ibis.literal(previous, type="int64"))
        for (start, _), (_, previous) in zip(offsets[1:], offsets[:-1], strict=True)
    ]
    return utc + ibis.cases(*branches, else_=ibis.literal(offsets[-1][1]))


BLOCK_DAYS = 62


def _blocks(windows: Sequence[int], size: int = BLOCK_DAYS) -> tuple[tuple[int, int], ...]:
    """[start, end) day ranges (days before as_of) tiling every window, none longer than
    ``size`` days (a day is a bit of a 64-bit integer; 62 keeps clear of the sign bit)."""
    out, begin = [], 0
    for end in windows:
        while begin < end:
            out.append((begin, min(begin + size, end)))
            begin = out[-1][1]
    return tuple(out)


BLOCKS = _blocks(WINDOWS)


def _last_block(window: int) -> int:
    return max(i for i, (_, end) in enumerate(BLOCKS) if end <= window)


@ibis.udf.scalar.builtin
def bit_count(value: int) -> int:  # type: ignore[empty-body]
    """The number of bits set (DuckDB and Spark both have it under this name)."""


@ibis.udf.agg.builtin
def bit_or(value: int) -> int:  # type: ignore[empty-body]
    """Bitwise OR over a group (a built-in aggregate of DuckDB and Spark alike; Ibis's own
    BitOr has no PySpark rule)."""


@ibis.udf.agg.builtin
def histogram(value: str) -> dict[str, int]:  # type: ignore[empty-body]
    """value → how many rows have it, NULLs left out (DuckDB)."""


def count_sum(value: ir.NumericValue) -> ir.IntegerScalar:
    """The sum of an integer count, as a 64-bit integer. Summed through DOUBLE (exact below
    2**53): DuckDB sums BIGINT into a 128-bit HUGEINT, twice as slow to aggregate and handed
    over as a decimal, and Ibis drops a cast back to int64 as a no-op."""
    return value.cast("float64").sum().cast("int64")


def _as_date(days: ir.IntegerValue) -> ir.DateValue:
    return ibis.date(EPOCH) + days.as_interval("D")


def partial_expressions(
    events: ir.Table,
    aliases: ir.Table | None,
    classes: ir.Table,
    params: FeatureParams,
    keys: Sequence[str] | ir.Column | None = None,
    key_range: tuple[ir.Value | str, ir.Value | str] | None = None,
    fold_subjects: bool = False,
) -> tuple[ir.Table, ir.Table | None]:
    """The mergeable partial aggregates behind the features: ``bands`` (per patron and day
    block: :data:`BAND_COLUMNS`) and ``subjects`` (per patron and top-level class, the last
    year's uses). Each column is a sum, a bitwise OR, a minimum or a maximum, so the partials
    of two sets of events combine (:func:`merge_partials`) into the partials of their union —
    an incremental refresh aggregates a new batch alone and merges it into the stored ones.

    Inputs as for :func:`feature_expression`. With ``fold_subjects`` (DuckDB) the subjects
    come from the same pass over the events: ``bands`` gets a ``classes`` column, a map of
    each top-level class to its uses in the band's days of the last year, and ``subjects`` is
    None (summing the maps per patron and class gives it)."""
    e = events
    if key_range is not None:  # a range the Parquet scan checks against row-group statistics
        e = e.filter(e.patron_key.between(*key_range))
    if keys is not None:
        e = e.filter(e.patron_key.isin(keys))
    e = e.filter(e.occurred_at_us < int(params.end_utc.timestamp()) * 1_000_000)
    e = e.filter(~e.type.isin(NOT_ACTIVITY))
    if aliases is not None:
        e = e.left_join(aliases, e.patron_key == aliases.old_key).select(
            patron_key=ibis.coalesce(aliases.new_key, e.patron_key),
            occurred_at_us=e.occurred_at_us,
            type=e.type,
            channel=e.channel,
            branch=e.branch,
            subject=e.subject,
            quantity=e.quantity,
            attrs=e.attrs,
        )
    if fold_subjects:
        e = e.left_join(classes, e.subject == classes.subject).select(
            *[e[c] for c in e.columns], top_class=classes.top_class
        )
    local = _local_seconds(e.occurred_at_us, params)
    hour = (local % DAY_SECONDS) // 3600
    scored = e.type.isin(SCORED_TYPES)
    score = ibis.coalesce(e.quantity, e.attrs[SCORE_ATTRIBUTE].try_cast("float64"))
    in_24h = e.type == "space_24h_use"
    if params.spaces_24h:
        in_24h = in_24h | (e.type.isin(TWENTY_FOUR_HOUR_TYPES) & e.branch.isin(params.spaces_24h))
    # Days are counted back from as_of (0 = as_of) and fall in blocks of at most 62 days
    # that tile the windows; per patron and block, each group's active days are a bitmap
    # (bit i: the block's i-th day), OR-ed over the events and counted at the end. That keeps
    # one group per patron and block — a few per patron — where one per patron and day
    # would be tens of millions in a big library.
    as_of = day_number(params.as_of)
    day = local // DAY_SECONDS
    ago = as_of - day
    block = ibis.cases(*((ago < end, i) for i, (_, end) in enumerate(BLOCKS)), else_=len(BLOCKS))
    start = ibis.cases(*((ago < end, begin) for begin, end in BLOCKS), else_=0)
    recent = ago < BLOCKS[-1][1]
    # 2**offset, written as a right shift of 2**62 so that every engine sees a 64-bit
    # literal (Spark types a plain 1 as a 32-bit INT, and 1 << 40 would wrap).
    top = BLOCK_DAYS
    bit = ibis.ifelse(
        recent, ibis.literal(1 << top) >> (top - ibis.ifelse(recent, ago - start, 0)), 0
    )
    rows = e.mutate(
        day=day,
        block=block,
        bit=bit,
        night=(hour >= NIGHT_FROM) | (hour < NIGHT_UNTIL),
        weekend=(day + 3) % 7 >= 5,  # day 0, 1970-01-01, was a Thursday; Monday is 0
    )

    def count(where: ir.BooleanValue) -> ir.IntegerScalar:
        # COUNT … FILTER: a third faster on DuckDB than SUM(CASE …) for the 30-odd of them.
        return rows.patron_key.count(where=where)

    sums: dict[str, ir.Value] = {
        "first": rows.day.min(),
        "last": rows.day.max(),
        "n_all": rows.patron_key.count(),
        "d_all": bit_or(rows.bit),
        "n_night": count(rows.night),
        "n_weekend": count(rows.weekend),
        "n_24h": count(in_24h),
        "n_download": count(rows.type == "download"),
        "score_n": count(scored & score.notnull()),
        "score_sum": ibis.ifelse(scored, score, None).sum(),
    }
    for g in GROUPS:
        member = rows.type.isin(g.types)
        sums[f"n_{g.name}"] = count(member)
        sums[f"d_{g.name}"] = ibis.coalesce(bit_or(rows.bit, where=member), 0)
    for c in CHANNEL_GROUPS:
        sums[f"c_{c.name}"] = count(rows.channel.isin(c.types))
    if fold_subjects:  # each block's uses per class, for the blocks of the last year
        recent_class = ibis.ifelse(rows.day > as_of - HABIT_WINDOW, rows.top_class, None)
        sums["classes"] = histogram(recent_class)
    bands = rows.group_by(["patron_key", "block"]).aggregate(**sums)
    bands = bands.select(
        **{c: bands[c].cast(t) for c, t in BAND_COLUMNS.items()},
        **({"classes": bands.classes} if fold_subjects else {}),
    )
    if fold_subjects:
        return bands, None

    subjects = rows.filter(rows.subject.notnull() & (rows.day > as_of - HABIT_WINDOW))
    subjects = subjects.join(classes, subjects.subject == classes.subject).select(
        patron_key=subjects.patron_key, top_class=classes.top_class
    )
    by_class = subjects.group_by(["patron_key", "top_class"]).aggregate(
        uses=subjects.patron_key.count().cast("int64")
    )
    return bands, by_class


def _band_columns() -> dict[str, str]:
    out = {"patron_key": "string", "block": "int64", "first": "int64", "last": "int64"}
    out |= {"n_all": "int64", "d_all": "int64", "n_night": "int64", "n_weekend": "int64"}
    out |= {"n_24h": "int64", "n_download": "int64", "score_n": "int64", "score_sum": "float64"}
    for g in GROUPS:
        out |= {f"n_{g.name}": "int64", f"d_{g.name}": "int64"}
    for c in CHANNEL_GROUPS:
        out[f"c_{c.name}"] = "int64"
    return out


BAND_COLUMNS: dict[str, str] = _band_columns()
"""Per patron and day block (:data:`BLOCKS`, counted back from as_of; the last one holds
everything older): first and last day, event counts, active-day bitmaps, score sums."""
SUBJECT_COLUMNS = {"patron_key": "string", "top_class": "string", "uses": "int64"}
"""Per patron and top-level class: uses in the last year."""


def merge_bands(bands: ir.Table) -> ir.Table:
    """Rows of :data:`BAND_COLUMNS` combined into one per patron and block: sums added,
    bitmaps OR-ed, first days the least, last days the greatest."""

    def combine(column: str) -> ir.Value:
        if column == "first":
            return bands[column].min()
        if column == "last":
            return bands[column].max()
        if column.startswith("d_"):
            return bit_or(bands[column])
        if BAND_COLUMNS[column] == "float64":
            return bands[column].sum()
        return count_sum(bands[column])

    merged = bands.group_by(["patron_key", "block"]).aggregate(
        **{c: combine(c) for c in BAND_COLUMNS if c not in ("patron_key", "block")}
    )
    return merged.select(**{c: merged[c].cast(t) for c, t in BAND_COLUMNS.items()})


def merge_subjects(subjects: ir.Table) -> ir.Table:
    """Rows of :data:`SUBJECT_COLUMNS` combined into one per patron and class."""
    return subjects.group_by(["patron_key", "top_class"]).aggregate(uses=count_sum(subjects.uses))


def merge_partials(bands: ir.Table, subjects: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Partials of several sets of events (``bands`` and ``subjects`` each the union of their
    rows) combined into one row per key (:func:`merge_bands`, :func:`merge_subjects`)."""
    return merge_bands(bands), merge_subjects(subjects)


def features_from_partials(bands: ir.Table, by_class: ir.Table, params: FeatureParams) -> ir.Table:
    """The feature table of the patrons in ``bands`` from their partials (one row per patron
    and block, and per patron and class: :func:`partial_expressions` or
    :func:`merge_partials`)."""
    as_of = day_number(params.as_of)

    def within(n: int) -> ir.BooleanValue:
        return bands.block <= _last_block(n)

    def total(column: str, n: int) -> ir.IntegerScalar:
        return count_sum(ibis.ifelse(within(n), bands[column], 0))

    def active_days(column: str, n: int) -> ir.IntegerScalar:
        return count_sum(ibis.ifelse(within(n), bit_count(bands[column]), 0))

    per_patron: dict[str, ir.Value] = {}
    for g in (ALL_GROUP, *GROUPS):
        for n in WINDOWS:
            per_patron[f"{g.name}_events_{n}d"] = total(f"n_{g.name}", n)
            per_patron[f"{g.name}_days_{n}d"] = active_days(f"d_{g.name}", n)
    for c in CHANNEL_GROUPS:
        for n in WINDOWS:
            per_patron[f"channel_{c.name}_{n}d"] = total(f"c_{c.name}", n)
    y = HABIT_WINDOW
    per_patron["first_seen"] = bands["first"].min()
    per_patron["last_seen"] = bands["last"].max()
    per_patron["_night"] = total("n_night", y)
    per_patron["_weekend"] = total("n_weekend", y)
    per_patron[f"space_24h_uses_{y}d"] = total("n_24h", y)
    per_patron[f"downloads_{y}d"] = total("n_download", y)
    per_patron[f"satisfaction_answers_{y}d"] = total("score_n", y)
    per_patron["_score_sum"] = ibis.ifelse(within(y), bands.score_sum, None).sum().cast("float64")
    profile = bands.group_by("patron_key").aggregate(**per_patron)

    all_y = profile[f"all_events_{y}d"]
    answers = profile[f"satisfaction_answers_{y}d"]
    counted = [
        k for k in per_patron if not k.startswith("_") and k not in ("first_seen", "last_seen")
    ]
    profile = profile.mutate(
        **{k: ibis.coalesce(profile[k], 0) for k in counted},
        days_since_last=(as_of - profile.last_seen).cast("int64"),
        **{
            f"night_share_{y}d": ibis.ifelse(
                all_y > 0, profile._night.cast("float64") / all_y, None
            ),
            f"weekend_share_{y}d": ibis.ifelse(
                all_y > 0, profile._weekend.cast("float64") / all_y, None
            ),
            f"satisfaction_mean_{y}d": ibis.ifelse(answers > 0, profile._score_sum / answers, None),
        },
    )

    by_class = by_class.mutate(
        rank=ibis.row_number().over(
            group_by=by_class.patron_key, order_by=[ibis.desc(by_class.uses), by_class.top_class]
        )
    )
    ranks = range(TOP_SUBJECTS)
    tops = by_class.group_by("patron_key").aggregate(
        _subject_events=count_sum(by_class.uses),
        _subject_classes=by_class.top_class.count(),
        **{f"_top{r}": by_class.top_class.max(where=by_class["rank"] == r) for r in ranks},
        **{f"_uses{r}": by_class.uses.max(where=by_class["rank"] == r) for r in ranks},
    )
    tops = tops.mutate(
        _top=ibis.array([tops[f"_top{r}"] for r in ranks]).filter(lambda v: v.notnull()),
        _uses=ibis.array([tops[f"_uses{r}"].cast("int64") for r in ranks]).filter(
            lambda v: v.notnull()
        ),
    )
    joined = profile.left_join(tops, profile.patron_key == tops.patron_key)
    no_text: ir.ArrayValue = ibis.literal([], type="array<string>")
    no_counts: ir.ArrayValue = ibis.literal([], type="array<int64>")
    extra = {
        f"subject_events_{y}d": ibis.coalesce(joined._subject_events, 0),
        f"subject_classes_{y}d": ibis.coalesce(joined._subject_classes, 0).cast("int64"),
        f"top_subjects_{y}d": ibis.coalesce(joined._top, no_text),
        f"top_subject_counts_{y}d": ibis.coalesce(joined._uses, no_counts),
    }
    extra["first_seen"] = _as_date(joined.first_seen)
    extra["last_seen"] = _as_date(joined.last_seen)
    columns = {"patron_key": joined.patron_key, "as_of": ibis.date(params.as_of)}
    for f in FEATURES:
        columns[f.name] = extra[f.name] if f.name in extra else joined[f.name]
    return joined.select(**columns).order_by("patron_key")


def feature_expression(
    events: ir.Table,
    aliases: ir.Table | None,
    classes: ir.Table,
    params: FeatureParams,
    keys: Sequence[str] | ir.Column | None = None,
    key_range: tuple[ir.Value | str, ir.Value | str] | None = None,
) -> ir.Table:
    """The feature table as an Ibis expression: the partials and the features from them in
    one plan.

    ``events`` has (at least) :data:`EVENT_COLUMNS`; ``aliases`` maps merged keys to the key
    they now mean (None when there are none); ``classes`` is :func:`subject_classes`. With
    ``keys``, only rows stored under those keys are read (pass every key merged into them too)
    and ``key_range`` (their smallest and largest) — the range sits on the scan, so Parquet
    row groups of sorted files that cannot hold those keys are skipped.
    """
    bands, by_class = partial_expressions(events, aliases, classes, params, keys, key_range)
    return features_from_partials(bands, by_class, params)


def finish(table: pa.Table) -> pa.Table:
    """An engine's result in the feature table's exact schema (engines differ in integer and
    list types, never in values)."""
    return table.select(FEATURE_SCHEMA.names).cast(FEATURE_SCHEMA)
