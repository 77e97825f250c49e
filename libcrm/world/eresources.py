"""E-resource sessions as the lines of an EZproxy log (NCSA combined, with the user field).

A session starts at a starting-point URL (``/login?url=…``) for one platform — CNKI 知网 and
Wanfang 万方 for the humanities, social sciences and medicine, ScienceDirect, IEEE Xplore,
Springer and Web of Science for the sciences — then views articles and downloads full texts,
with the page assets, the odd error and the anonymous requests a real log holds (the
connector counts those, it does not import them). The user field is the library card of the
record the person signed in with. Pure: no Django.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.world.activity import ERESOURCE, col, route
from libcrm.world.groups import GROUPS
from libcrm.world.population import DISCIPLINES, Population
from libcrm.world.rng import Draws, arange, repeat_indices, whole

PLATFORMS = ("cnki", "wanfang", "sciencedirect", "ieee", "springer", "wos")
_CNKI, _WANFANG, _SD, _IEEE, _SPRINGER, _WOS = range(len(PLATFORMS))
# Which platforms each discipline reads (weights in PLATFORMS order).
_DISCIPLINE_PLATFORMS = {
    "engineering": (2, 1, 4, 5, 3, 1),
    "science": (2, 1, 5, 2, 4, 2),
    "medicine": (4, 4, 4, 0.5, 3, 1),
    "literature": (8, 3, 0.5, 0, 1, 0.5),
    "management": (6, 3, 3, 0.5, 2, 1),
    "law": (8, 3, 1, 0, 1, 0.5),
    "art": (8, 2, 0.5, 0.2, 1, 0.2),
    "history": (8, 3, 0.5, 0, 1, 0.5),
    "education": (8, 3, 1, 0.2, 1, 0.5),
    "philosophy": (7, 2, 0.5, 0, 2, 0.5),
    "interdisciplinary": (3, 1, 3, 2, 3, 2),
    "": (6, 3, 1, 0.5, 1, 0.2),
}
# Per discipline: CNKI journal code (4 letters), a journal ISSN (8 digits), a Springer journal.
_JOURNALS = {
    "engineering": ("JSJX", "09574174", "10994"), "science": ("SXXB", "00219991", "00220"),
    "medicine": ("ZHYX", "01406736", "00134"), "literature": ("WXPL", "00143812", "11196"),
    "management": ("GLSJ", "03772217", "11573"), "law": ("FXYJ", "01447459", "10978"),
    "art": ("YSBJ", "00043079", "41599"), "history": ("LSYJ", "00182656", "11024"),
    "education": ("JYYJ", "03601315", "10639"), "philosophy": ("ZXYJ", "00318248", "11098"),
    "interdisciplinary": ("TSGJ", "15322882", "11192"), "": ("DZWH", "03064573", "10502"),
}  # fmt: skip
_HOME = (
    "https://kns.cnki.net/kns8s/",
    "https://www.wanfangdata.com.cn/index.html",
    "https://www.sciencedirect.com/",
    "https://ieeexplore.ieee.org/Xplore/home.jsp",
    "https://link.springer.com/",
    "https://www.webofscience.com/wos/woscc/basic-search",
)
_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 MicroMessenger/8.0.49",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
)
LOGIN, PAGE, DOWNLOAD, ASSET, ERROR = range(5)
#: The line kinds the connector turns into events (assets and errors it only counts).
COUNTED = (LOGIN, PAGE, DOWNLOAD)


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _pad(values: pa.Array, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(values, pa.string()), width=width, padding="0")


def draw_ezproxy(sessions: pa.Table, pop: Population, seed: int, end: int) -> pa.Table:
    """One row per log line: the record (whose card is the user), time, line kind, platform,
    URL, status, and the parts the log line is made of."""
    draws = Draws(seed, "ezproxy")
    chosen = sessions.filter(pc.equal(col(sessions, "kind"), ERESOURCE))
    person, group, day, t0 = (col(chosen, n) for n in ("person", "group", "day", "t"))
    s = len(person)
    record = route(pop, person, day, pop.eresource_record, 0.7, draws)
    discipline = pc.take(pop.discipline, person)
    platform = draws.categorical_rows(discipline, [_DISCIPLINE_PLATFORMS[d] for d in DISCIPLINES])
    pages = draws.poisson(pc.take(pa.array([g.pages_per_session for g in GROUPS]), group))
    downloads = draws.poisson(pc.take(pa.array([g.downloads_per_session for g in GROUPS]), group))
    downloads = pc.if_else(pc.equal(platform, _WOS), 0, downloads)  # WoS has no full texts
    assets = draws.poisson(pa.array([0.8] * s)) if s else pa.array([], pa.int64())
    errors = pc.cast(draws.bernoulli(0.03, s), pa.int64())
    counts = pc.add(pc.add(pc.add(1, pages), pc.add(downloads, assets)), errors)
    session = repeat_indices(counts)
    n = len(session)
    starts = pc.subtract(pc.cumulative_sum(counts), counts)
    position = pc.subtract(arange(n), pc.take(starts, session))
    # Line kinds in order: the login, page views, downloads, assets, an error.
    edges = [pc.add(1, pages)]
    edges.append(pc.add(edges[0], downloads))
    edges.append(pc.add(edges[1], assets))
    kind = pc.cast(pc.greater_equal(position, 1), pa.int64())
    for edge in edges:
        kind = pc.add(kind, pc.cast(pc.greater_equal(position, pc.take(edge, session)), pa.int64()))
    gaps = pc.add(whole(draws.exponential(n, 40.0)), 1)
    elapsed = pc.cumulative_sum(gaps)
    elapsed = pc.subtract(elapsed, pc.take(elapsed, pc.take(starts, session)))
    t = pc.add(pc.take(t0, session), elapsed)
    platform_l = pc.take(platform, session)
    discipline_l = pc.take(discipline, session)
    # Each session reads around one article; other page views wander off to others.
    main_article = draws.integers(s, 3000)
    article = pc.take(main_article, session)
    wander = pc.and_(pc.equal(kind, PAGE), draws.bernoulli(0.5, n))
    article = pc.if_else(wander, draws.integers(n, 3000), article)
    popular = pc.floor(
        pc.multiply(pc.power(pc.divide(pc.cast(article, pa.float64()), 3000.0), 1.7), 3000.0)
    )
    article = whole(popular)
    url = _urls(kind, platform_l, discipline_l, article)
    status = pc.if_else(
        pc.equal(kind, ERROR), "404", pc.if_else(pc.equal(kind, LOGIN), "302", "200")
    )
    lines = pa.table(
        {
            "session": session,
            "record": pc.take(record, session),
            "t": t,
            "kind": kind,
            "platform": pc.take(pa.array(PLATFORMS), platform_l),
            "url": url,
            "status": status,
            "bytes": pc.cast(pc.add(draws.integers(n, 90_000), 400), pa.string()),
            "agent": pc.take(pa.array(_AGENTS), pc.take(draws.integers(s, len(_AGENTS)), session)),
            "address": pc.take(_addresses(s, draws), session),
            "referer": pc.take(pa.array(_HOME), platform_l),
        }
    )
    return lines.filter(pc.less(col(lines, "t"), end))


def _addresses(s: int, draws: Draws) -> pa.Array:
    """Client addresses: the campus network (10.x) or documentation ranges for off-campus."""
    campus = draws.bernoulli(0.7, s)
    a, b, c = draws.integers(s, 60, 1), draws.integers(s, 255), draws.integers(s, 254, 1)
    inside = _join("10.", pc.cast(a, pa.string()), ".", pc.cast(b, pa.string()), ".",
                   pc.cast(c, pa.string()))  # fmt: skip
    outside = _join("203.0.113.", pc.cast(c, pa.string()))
    return pc.if_else(campus, inside, outside)


_HOSTS = (
    "kns.cnki.net", "d.wanfangdata.com.cn", "www.sciencedirect.com", "ieeexplore.ieee.org",
    "link.springer.com", "www.webofscience.com",
)  # fmt: skip
# (prefix, suffix) around each platform's article key: page views, then downloads.
_PAGE = (
    ("https://kns.cnki.net/kcms2/article/abstract?v=3uoqIhG8&dbcode=CJFD&filename=", ""),
    ("https://d.wanfangdata.com.cn/periodical/", ""),
    ("https://www.sciencedirect.com/science/article/pii/", ""),
    ("https://ieeexplore.ieee.org/document/", "/"),
    ("https://link.springer.com/article/", ""),
    ("https://www.webofscience.com/wos/woscc/full-record/WOS:", ""),
)
_DOWNLOAD = (
    ("https://kns.cnki.net/kns8s/download?dbcode=CJFD&filename=", "&tablename=CJFDLAST"),
    ("https://d.wanfangdata.com.cn/periodical/", "/download"),
    ("https://www.sciencedirect.com/science/article/pii/", "/pdfft?isDTMRedir=true&download=true"),
    ("https://ieeexplore.ieee.org/stamp/stamp.jsp?tp=&arnumber=", ""),
    ("https://link.springer.com/content/pdf/", ".pdf"),
    _PAGE[_WOS],  # Web of Science holds records, not full texts
)


def _keys(platform: int, discipline: pa.Array, article: pa.Array) -> pa.Array:
    """The article keys of one platform, as its URLs spell them."""
    journals = [_JOURNALS[d] for d in DISCIPLINES]
    year = pc.subtract(2025, pc.divide(article, 300))  # popular articles are the recent ones
    seq = pc.add(pc.multiply(discipline, 10_000), article)
    yy = _pad(pc.remainder(year, 100), 2)
    if platform in (_CNKI, _WANFANG):
        code = pc.take(pa.array([j[0] for j in journals]), discipline)
        issue = _pad(pc.add(pc.divide(pc.remainder(article, 300), 25), 1), 2)
        filename = _join(
            code, pc.cast(year, pa.string()), issue, _pad(pc.remainder(article, 25), 3)
        )
        return filename if platform == _CNKI else pc.utf8_lower(filename)
    if platform == _SD:
        return _join("S", pc.take(pa.array([j[1] for j in journals]), discipline), yy, _pad(seq, 6))
    if platform == _IEEE:
        return pc.cast(pc.add(8_000_000, seq), pa.string())
    if platform == _SPRINGER:
        journal = pc.take(pa.array([j[2] for j in journals]), discipline)
        check = pc.cast(pc.remainder(seq, 10), pa.string())
        return _join("10.1007/s", journal, "-0", yy, "-", _pad(seq, 5), "-", check)
    return _pad(pc.add(pc.multiply(year, 10_000_000), seq), 15)


def _urls(kind: pa.Array, platform: pa.Array, discipline: pa.Array, article: pa.Array) -> pa.Array:
    """The request target of each line: a template (by platform and line kind) around the
    article key, the key being built only on the rows of its platform."""
    rows, keys = [], []
    for index in range(len(PLATFORMS)):
        where = pc.indices_nonzero(pc.equal(platform, index))
        rows.append(where)
        keys.append(_keys(index, pc.take(discipline, where), pc.take(article, where)))
    order = pc.sort_indices(pa.concat_arrays(rows))
    key = pc.take(pa.concat_arrays(keys), order)
    has_key = pc.is_in(kind, pa.array([PAGE, DOWNLOAD, ERROR], pa.int64()))
    key = pc.if_else(has_key, key, "")
    prefixes, suffixes = [], []
    for index in range(len(PLATFORMS)):
        login = ("/login?url=" + _HOME[index], "")
        asset = (f"https://{_HOSTS[index]}/static/css/main.css", "")
        for kind_index in range(ERROR + 1):
            template = {LOGIN: login, PAGE: _PAGE[index], DOWNLOAD: _DOWNLOAD[index],
                        ASSET: asset, ERROR: _PAGE[index]}[kind_index]  # fmt: skip
            prefixes.append(template[0])
            suffixes.append(template[1])
    which = pc.add(pc.multiply(platform, ERROR + 1), kind)
    return _join(pc.take(pa.array(prefixes), which), key, pc.take(pa.array(suffixes), which))


def log_lines(lines: pa.Table, card: pa.Array, clock: pa.Array) -> pa.Array:
    """The text of each line: ``%h %{session}i %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"``.
    ``card`` is the user of each line, ``clock`` its time as ``05/Mar/2025:09:15:02 +0800``."""
    session = _join("s", _pad(col(lines, "session"), 8))
    return _join(
        col(lines, "address"), " ", session, " ", card, " [", clock, '] "GET ',
        col(lines, "url"), ' HTTP/1.1" ', col(lines, "status"), " ", col(lines, "bytes"),
        ' "', col(lines, "referer"), '" "', col(lines, "agent"), '"',
    )  # fmt: skip


def expected_events(lines: pa.Table) -> int:
    """How many events the connector makes of these lines (logins, pages, downloads)."""
    return int(pc.sum(pc.is_in(col(lines, "kind"), pa.array(COUNTED, pa.int64()))).as_py() or 0)
