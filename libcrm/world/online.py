"""The events of the channels without a native export format — the website and OPAC, the app,
the WeChat official account and mini program, seat bookings, reference questions, feedback —
as rows of libcrm's own NDJSON (see :mod:`libcrm.events.connectors.ndjson`).

Each row names its record and which of the record's identifiers the channel knows it by: the
library card on the website and the app, the openid on WeChat, the e-mail address or phone
number for questions sent that way. Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.world import campus
from libcrm.world.activity import (
    APP,
    BOOKING,
    CONSULT,
    DAY,
    VOICE,
    WEB,
    WECHAT,
    col,
    on_wechat,
    wechat_route,
)
from libcrm.world.catalogue import Catalogue
from libcrm.world.circulation import draw_items
from libcrm.world.groups import GROUPS
from libcrm.world.population import BRANCH_CODES, Population
from libcrm.world.rng import Draws, repeat_indices, whole

CARD, OPENID, EMAIL, PHONE = "library_card", "wechat_openid", "email", "phone"
#: Which NDJSON file (and ingestion source) holds each channel's events.
SOURCE_OF_CHANNEL = {
    "web": "website",
    "app": "mobile-app",
    "wechat": "wechat-oa",
    "physical": "service-desk",
    "kiosk": "service-desk",
    "email": "service-desk",
    "phone": "service-desk",
}
EVENT_COLUMNS = pa.schema(
    [
        ("record", pa.int64()), ("who", pa.string()), ("t", pa.int64()), ("type", pa.string()),
        ("channel", pa.string()), ("branch", pa.string()), ("space", pa.string()),
        ("item_id", pa.string()), ("subject", pa.string()), ("quantity", pa.int64()),
        ("duration_s", pa.int64()), ("attrs", pa.string()),
    ]
)  # fmt: skip
_WEB_PAGES = ("home", "opac_search", "opac_detail", "my_account", "news", "database_list")
_MINI_PAGES = ("seat_booking", "my_loans", "search", "e_card", "activities")
_POSTS = ("新书通报", "本周书单", "讲座预告", "开馆时间调整", "数据库试用", "读书月活动")
_TOPICS = ("查找文献", "馆际互借", "数据库使用", "借还规则", "论文查重", "开馆时间", "座位预约")
# Share of app sessions in which the person also reads an e-book, by group.
_E_READING = {
    "night_owl": 0.15, "eresource_researcher": 0.3, "family_reader": 0.1, "exam_crammer": 0.1,
    "avid_reader": 0.4, "wechat_native": 0.2, "casual_visitor": 0.1, "dormant": 0.05,
}  # fmt: skip
_FEEDBACK = ("座位", "开放时间", "空调", "网络", "馆藏", "服务态度", "噪音")


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _attrs(**values: pa.Array | str) -> pa.Array:
    """A JSON object of text values (the values here never hold quotes or backslashes)."""
    parts: list[pa.Array | str] = ["{"]
    for i, (key, value) in enumerate(values.items()):
        parts += [("," if i else "") + f'"{key}":"', value, '"']
    return _join(*parts, "}")


def event_rows(n: int, **columns: pa.Array | str | int | None) -> pa.Table:
    """A table of EVENT_COLUMNS; scalars are repeated, missing columns are null."""
    arrays = []
    for field in EVENT_COLUMNS:
        value = columns.get(field.name)
        if value is None:
            arrays.append(pa.nulls(n, field.type))
        elif isinstance(value, str | int):
            arrays.append(pa.array([value] * n, field.type))
        else:
            arrays.append(pc.cast(value, field.type))
    return pa.Table.from_arrays(arrays, schema=EVENT_COLUMNS)


def _of_kind(sessions: pa.Table, kind: int) -> pa.Table:
    return sessions.filter(pc.equal(col(sessions, "kind"), kind))


def _catalogue_columns(catalogue: Catalogue) -> tuple[pa.Array, pa.Array]:
    items = catalogue.items
    return (
        pa.array([i.control_number for i in items], pa.string()),
        pa.array([i.clc for i in items], pa.string()),
    )


def draw_online(sessions: pa.Table, pop: Population, catalogue: Catalogue, seed: int) -> pa.Table:
    """The NDJSON events of web, app, WeChat, booking, consultation and feedback sessions."""
    draws = Draws(seed, "online")
    numbers, classes = _catalogue_columns(catalogue)
    parts = [
        _web(_of_kind(sessions, WEB), pop, catalogue, numbers, classes, draws),
        _app(_of_kind(sessions, APP), pop, catalogue, numbers, classes, draws),
        _wechat(_of_kind(sessions, WECHAT), pop, draws),
        _bookings(_of_kind(sessions, BOOKING), pop, draws),
        _consultations(_of_kind(sessions, CONSULT), pop, draws),
        _voice(_of_kind(sessions, VOICE), pop, draws),
    ]
    return pa.concat_tables(parts)


def _web(
    s: pa.Table,
    pop: Population,
    catalogue: Catalogue,
    numbers: pa.Array,
    classes: pa.Array,
    draws: Draws,
) -> pa.Table:
    person, group, n = col(s, "person"), col(s, "group"), s.num_rows
    page = draws.categorical(n, (25, 30, 20, 12, 8, 5))
    detail = pc.equal(page, 2)
    item = draw_items(person, group, pop, catalogue, draws)
    return event_rows(
        n,
        record=pc.take(pop.primary, person),
        who=CARD,
        t=col(s, "t"),
        type="web_visit",
        channel="web",
        item_id=pc.if_else(detail, pc.take(numbers, item), None),
        subject=pc.if_else(detail, pc.take(classes, item), None),
        duration_s=whole(draws.lognormal(n, 200.0, 0.8)),
        attrs=_attrs(page=pc.take(pa.array(_WEB_PAGES), page)),
    )


def _app(
    s: pa.Table,
    pop: Population,
    catalogue: Catalogue,
    numbers: pa.Array,
    classes: pa.Array,
    draws: Draws,
) -> pa.Table:
    person, group, n = col(s, "person"), col(s, "group"), s.num_rows
    record = pc.take(pop.primary, person)
    visits = event_rows(
        n,
        record=record,
        who=CARD,
        t=col(s, "t"),
        type="app_visit",
        channel="app",
        duration_s=whole(draws.lognormal(n, 150.0, 0.7)),
        attrs=_attrs(page=pc.take(pa.array(_MINI_PAGES), draws.integers(n, len(_MINI_PAGES)))),
    )
    reads = draws.bernoulli(pc.take(pa.array([_E_READING[g.code] for g in GROUPS]), group))
    item = draw_items(person, group, pop, catalogue, draws)
    minutes = draws.lognormal(n, 25.0, 0.6)
    reading = event_rows(
        n,
        record=record,
        who=CARD,
        t=pc.add(col(s, "t"), 30),
        type="reading_session",
        channel="app",
        item_id=pc.take(numbers, item),
        subject=pc.take(classes, item),
        duration_s=whole(pc.multiply(minutes, 60.0)),
        quantity=whole(pc.multiply(minutes, 0.8)),  # pages read
    ).filter(reads)
    return pa.concat_tables([visits, reading])


def _wechat(s: pa.Table, pop: Population, draws: Draws) -> pa.Table:
    """One to a few interactions per session: reading or liking a post, the mini program, a
    message — most messages answered by a librarian within the hour or two."""
    extra = draws.poisson(pa.array([0.5] * s.num_rows)) if s.num_rows else pa.array([], pa.int64())
    counts = pc.add(extra, 1)
    index = repeat_indices(counts)
    n = len(index)
    person, day = pc.take(col(s, "person"), index), pc.take(col(s, "day"), index)
    # One interaction after another: a minute or more apart within the session.
    gaps = pc.add(whole(draws.exponential(n, 240.0)), 60)
    elapsed = pc.cumulative_sum(gaps)
    first = pc.subtract(pc.cumulative_sum(counts), counts)
    elapsed = pc.subtract(elapsed, pc.take(pc.take(elapsed, first), index))
    t = pc.add(pc.take(col(s, "t"), index), elapsed)
    record = wechat_route(pop, person, day, draws)
    what = draws.categorical(n, (50, 30, 20))
    action = pc.take(pa.array(("read", "like", "share")), draws.categorical(n, (70, 20, 10)))
    post = pc.take(pa.array(_POSTS), draws.integers(n, len(_POSTS)))
    topic = pc.take(pa.array(_TOPICS), draws.integers(n, len(_TOPICS)))
    page = pc.take(pa.array(_MINI_PAGES), draws.integers(n, len(_MINI_PAGES)))
    events = event_rows(
        n,
        record=record,
        who=OPENID,
        t=t,
        type=pc.take(pa.array(("social_interaction", "app_visit", "message_in")), what),
        channel="wechat",
        attrs=pc.if_else(
            pc.equal(what, 0),
            _attrs(action=action, post=post),
            pc.if_else(pc.equal(what, 1), _attrs(page=page), _attrs(topic=topic)),
        ),
    )
    asked = pc.and_(pc.equal(what, 2), draws.bernoulli(0.9, n))
    delay = pc.add(120, whole(draws.exponential(n, 2400.0)))
    replies = event_rows(
        n,
        record=record,
        who=OPENID,
        t=pc.add(t, delay),
        type="message_out",
        channel="wechat",
        attrs=_attrs(reply_to="message_in", topic=topic),
    ).filter(asked)
    return pa.concat_tables([events, replies])


def _bookings(s: pa.Table, pop: Population, draws: Draws) -> pa.Table:
    """A seat or room booked on WeChat or the app for a slot later that day or in the next two
    days, and — most of the time — the check-in at the kiosk when the slot starts."""
    person, day, n = col(s, "person"), col(s, "day"), s.num_rows
    wechat = pc.and_(on_wechat(pop, person, day), draws.bernoulli(0.65, n))
    record = pc.if_else(wechat, wechat_route(pop, person, day, draws), pc.take(pop.primary, person))
    branch = pc.take(pop.home_branch, person)
    spaces = [campus.SPACES[b] for b in BRANCH_CODES]
    first = pa.array([sum(len(x) for x in spaces[:i]) for i in range(len(spaces))], pa.int64())
    names = pa.array([name for x in spaces for name in x])
    space = pc.take(
        names,
        pc.add(
            pc.take(first, branch),
            draws.integers(n, pc.take(pa.array([len(x) for x in spaces], pa.int64()), branch)),
        ),
    )
    slot_day = pc.add(day, draws.integers(n, 3))
    slot = pc.add(pc.multiply(slot_day, DAY), pc.multiply(pc.add(draws.integers(n, 12), 8), 3600))
    slot = pc.max_element_wise(slot, pc.add(col(s, "t"), 1800))
    length = pc.multiply(pc.add(draws.integers(n, 3), 2), 3600)
    branch_code = pc.take(pa.array(BRANCH_CODES), branch)
    bookings = event_rows(
        n,
        record=record,
        who=pc.if_else(wechat, OPENID, CARD),
        t=col(s, "t"),
        type="space_booking",
        channel=pc.if_else(wechat, "wechat", "app"),
        branch=branch_code,
        space=space,
        duration_s=length,
    )
    shows = draws.bernoulli(0.85, n)
    checkins = event_rows(
        n,
        record=pc.take(pop.primary, person),
        who=CARD,
        t=pc.add(slot, draws.integers(n, 900)),
        type="space_checkin",
        channel="kiosk",
        branch=branch_code,
        space=space,
    ).filter(shows)
    return pa.concat_tables([bookings, checkins])


def _consultations(s: pa.Table, pop: Population, draws: Draws) -> pa.Table:
    person, day, n = col(s, "person"), col(s, "day"), s.num_rows
    primary = pc.take(pop.primary, person)
    channel = draws.categorical(n, (35, 25, 20, 12, 8))  # physical, web, wechat, email, phone
    has_email = pc.take(pop.record_email, primary).is_valid()
    has_phone = pc.take(pop.record_phone, primary).is_valid()
    wechat_ok = on_wechat(pop, person, day)
    channel = pc.if_else(pc.and_(pc.equal(channel, 2), pc.invert(wechat_ok)), 1, channel)
    channel = pc.if_else(pc.and_(pc.equal(channel, 3), pc.invert(has_email)), 1, channel)
    channel = pc.if_else(pc.and_(pc.equal(channel, 4), pc.invert(has_phone)), 0, channel)
    record = pc.if_else(pc.equal(channel, 2), wechat_route(pop, person, day, draws), primary)
    names = pa.array(("physical", "web", "wechat", "email", "phone"))
    who = pa.array((CARD, CARD, OPENID, EMAIL, PHONE))
    physical = pc.equal(channel, 0)
    return event_rows(
        n,
        record=record,
        who=pc.take(who, channel),
        t=col(s, "t"),
        type="consultation",
        channel=pc.take(names, channel),
        branch=pc.if_else(
            physical, pc.take(pa.array(BRANCH_CODES), pc.take(pop.home_branch, person)), None
        ),
        duration_s=pc.multiply(pc.add(draws.integers(n, 18), 2), 60),
        attrs=_attrs(topic=pc.take(pa.array(_TOPICS), draws.integers(n, len(_TOPICS)))),
    )


def _voice(s: pa.Table, pop: Population, draws: Draws) -> pa.Table:
    """Feedback (praise, complaints, suggestions), purchase suggestions and survey answers."""
    person, day, n = col(s, "person"), col(s, "day"), s.num_rows
    what = draws.categorical(n, (50, 30, 20))
    wechat = pc.and_(on_wechat(pop, person, day), draws.bernoulli(0.5, n))
    record = pc.if_else(wechat, wechat_route(pop, person, day, draws), pc.take(pop.primary, person))
    kind = pc.take(pa.array(("praise", "complaint", "suggestion")), draws.categorical(n, (3, 4, 3)))
    theme = pc.take(pa.array(_FEEDBACK), draws.integers(n, len(_FEEDBACK)))
    score = pc.add(draws.integers(n, 6), 5)  # NPS-style 0–10, mostly kind
    return event_rows(
        n,
        record=record,
        who=pc.if_else(wechat, OPENID, CARD),
        t=col(s, "t"),
        type=pc.take(pa.array(("feedback", "purchase_suggestion", "survey_answer")), what),
        channel=pc.if_else(wechat, "wechat", "web"),
        quantity=pc.if_else(pc.equal(what, 2), score, None),
        attrs=pc.if_else(pc.equal(what, 0), _attrs(kind=kind, theme=theme), None),
    )


def loan_side_events(
    loans: pa.Table, notices: pa.Table, catalogue: Catalogue, held_out: pa.Array
) -> pa.Table:
    """Holds placed before loans and the ILS's due-date messages, as NDJSON events (none for
    held-out loans: those interactions must not leak into the store)."""
    numbers, classes = _catalogue_columns(catalogue)
    kept = loans.filter(pc.invert(held_out))
    holds = kept.filter(col(kept, "t_hold").is_valid())
    channel = col(holds, "hold_channel")
    item = col(holds, "item")
    hold_rows = event_rows(
        holds.num_rows,
        record=col(holds, "hold_record"),
        who=pc.if_else(pc.equal(channel, "wechat"), OPENID, CARD),
        t=col(holds, "t_hold"),
        type="hold",
        channel=channel,
        item_id=pc.take(numbers, item),
        subject=pc.take(classes, item),
    )
    excluded = pc.filter(col(loans, "loan"), held_out)
    notices = notices.filter(pc.invert(pc.is_in(col(notices, "loan"), value_set=excluded)))
    notice_channel = col(notices, "channel")
    notice_rows = event_rows(
        notices.num_rows,
        record=col(notices, "record"),
        who=pc.if_else(pc.equal(notice_channel, "wechat"), OPENID, EMAIL),
        t=col(notices, "t"),
        type="message_out",
        channel=notice_channel,
        item_id=pc.take(numbers, col(notices, "item")),
        attrs=_attrs(template=col(notices, "template")),
    )
    return pa.concat_tables([hold_rows, notice_rows])


def sources_of(rows: pa.Table, overrides: Mapping[str, str] | None = None) -> pa.Array:
    """The NDJSON file (source) of each row, by channel."""
    table = {**SOURCE_OF_CHANNEL, **(overrides or {})}
    keys = pa.array(list(table))
    return pc.take(pa.array(list(table.values())), pc.index_in(col(rows, "channel"), keys))
