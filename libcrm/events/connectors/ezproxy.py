"""EZproxy logs → e-resource access and download events.

Reads the NCSA common and combined formats with the user field —
``%h %l %u %t "%r" %>s %b ["%{Referer}i" "%{User-Agent}i"]`` — including EZproxy's usual
``%h %{ezproxy-session}i %u %t …``, where the session id takes the ``%l`` place; anything after
the combined fields is ignored. The user (the card number or campus id the patron signed in
with) is the identifier, of the kind given by ``identifier_kind``. Times carry their own offset
(``[05/Mar/2024:09:15:02 +0800]``), so ``tz`` is not needed to read them.

What counts: a successful (status below 400) GET or POST of a proxied resource. Anonymous
requests (user ``-``), error statuses, other methods, page assets (images, scripts, styles,
fonts) and EZproxy's own pages are left out with a counted notice, not rejected. A request
whose URL looks like full text (``.pdf``, ``/pdf/``, ``download``, ``fulltext``, …) is a
``download``, any other an ``eresource_access``. The item is the target host, plus the
article's key on platforms that put one in the URL (CNKI 知网, Wanfang 万方, Web of Science,
ScienceDirect, IEEE Xplore, Springer); a key too long for an item id (64 characters) goes to
``attrs["article"]`` and the item is the host alone. The client address, referrer and user
agent are dropped: they identify people and the event store must not hold them.

Speed: a block's lines are split into fields by one Python regular expression over the whole
block (CPython's engine extracts submatches faster than Arrow's RE2); the checks, times and URL
work are column-wise Arrow kernels, which release the GIL, so two blocks are worked on at once.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc

from libcrm.events.connectors.base import (
    DEFAULT_BATCH_ROWS,
    DOWNLOAD,
    ERESOURCE_ACCESS,
    RAW_SCHEMA,
    WEB,
    Chunk,
    ColumnChecks,
    Findings,
    Input,
    attrs_from_columns,
    check_batch_size,
    check_identifier_kind,
    check_source,
    event_ids_of_lines,
    source_prefix,
)
from libcrm.events.connectors.reading import (
    EMPTY_FILE,
    LineSource,
    TextDecoder,
    input_name,
    open_input,
)
from libcrm.events.connectors.timestamps import UTC_MICROS, check_time_zone
from libcrm.events.schema import MAX_ITEM_ID

_URL = r"(?:[hH][tT][tT][pP][sS]?://(?P<host>[^/?#:\s\"]+)(?::\d+)?)?(?P<rest>\S*)"
_LINE = re.compile(
    r"\S+ (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]*)\] "
    rf'"(?P<method>[A-Z]+) {_URL}(?: HTTP/\d(?:\.\d)?)?" (?P<status>\d{{3}}|-) (?:\d+|-)(?:\s|$)'
)
_FIELDS = tuple(_LINE.groupindex)
_PARTS = pa.struct([(name, pa.string()) for name in _FIELDS])
# The same pattern over a whole block at once: when every line matches (the usual case) one
# findall call replaces a Python loop; otherwise the block is matched line by line.
_LINES = re.compile("^" + _LINE.pattern.replace(r"(?:\s|$)", r"(?:[ \t][^\n]*)?$"), re.MULTILINE)
# Only for lines _LINE refuses: is it a log line with an odd request, or not a log line at all?
_ANY_REQUEST = re.compile(
    r'\S+ \S+ \S+ \[[^\]]*\] "(?P<request>[^"]*)" (?P<status>\d{3}|-) (?:\d+|-)(?:\s|$)'
)
_ABSOLUTE = re.compile(rf"{_URL}$")
_METHODS = pa.array(["GET", "POST"])
_LOGIN = re.compile(r"^/login\?(?:[^#]*?&)?(?P<param>q?url)=(?P<target>.*)$", re.IGNORECASE)
_ASSET = r"(?i)\.(?:css|js|png|gif|jpe?g|svg|ico|webp|woff2?|ttf|eot|map)(?:[?#;]|$)"
_DOWNLOAD = r"(?i)\.pdf\b|/pdf/|download|fulltext|full-text|pdfft|/stamp/|cajdown|pdfdown|/epdf/"
_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
_WORKERS = 2

#: (platform, host pattern, [(URL pattern with a ``key`` group, prefix of the key)]).
#: The key is what tells one article from another on that platform.
PLATFORMS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "cnki",
        r"(?i)(^|\.)cnki\.net$",
        (
            (r"(?i)[?&]dbcode=(?P<key>[^&#]+)", "db"),
            (r"(?i)[?&]filename=(?P<key>[^&#]+)", "file"),
        ),
    ),
    (
        "wanfang",
        r"(?i)(^|\.)wanfangdata\.com\.cn$",
        ((r"(?i)/(?P<key>(?:periodical|thesis|conference|patent|standard)/[^/?#]+)", ""),),
    ),
    (
        "wos",
        r"(?i)(^|\.)(webofscience\.com|webofknowledge\.com)$",
        ((r"(?i)WOS(?::|%3A)(?P<key>\d{15})", "WOS:"),),
    ),
    (
        "sciencedirect",
        r"(?i)(^|\.)sciencedirect\.com$",
        ((r"(?i)/pii/(?P<key>S?[0-9X]{16,17})", "pii/"),),
    ),
    (
        "ieee",
        r"(?i)^ieeexplore\.ieee\.org$",
        (
            (r"/document/(?P<key>\d+)", "document/"),
            (r"(?i)[?&]arnumber=(?P<key>\d+)", "document/"),
        ),
    ),
    (
        "springer",
        r"(?i)^link\.springer\.com$",
        (
            (
                r"(?i)/(?:article|chapter|book|content/pdf)/(?P<key>10\.\d{4,9}/[^?#\s]+?)"
                r"(?:\.pdf)?(?:[?#]|$)",
                "",
            ),
        ),
    ),
)

NOT_LOG_LINE = 'not an NCSA/EZproxy log line (%h %l %u %t "%r" %>s %b …)'
BAD_TIME = "not a log time like [05/Mar/2024:09:15:02 +0800]"
BAD_REQUEST = "not a request line like 'GET https://host/path HTTP/1.1'"
ANONYMOUS = "anonymous requests (user '-') were not imported"
ERROR_STATUS = "requests with an error status (400 or above) were not counted"
OTHER_METHOD = "requests other than GET and POST were not counted"
ASSET = "page assets (images, scripts, styles, fonts) were not counted"
OWN_PAGE = "EZproxy's own pages (menu, login without a target) were not counted"


def read(
    data: Input,
    /,
    *,
    source: str,
    tz: str,
    batch_size: int = DEFAULT_BATCH_ROWS,
    identifier_kind: str = "library_card",
    proxy_suffix: str | None = None,
) -> Iterator[Chunk]:
    """Access events from an EZproxy log (plain or gzip).

    ``proxy_suffix`` (e.g. ``ezproxy.lib.example.edu``) undoes proxy-by-hostname rewriting, so
    ``www-sciencedirect-com.ezproxy.lib.example.edu`` is counted as ``www.sciencedirect.com``.
    """
    check_source(source)
    check_time_zone(tz)
    check_batch_size(batch_size)
    check_identifier_kind(identifier_kind)
    findings = Findings(input_name(data))
    parser = _LogParser(source, identifier_kind, (proxy_suffix or "").lower().strip("."))
    # Arrow's kernels release the GIL: while one block is in them, another is split and this
    # thread reads and decodes the next.
    with open_input(data) as opened, ThreadPoolExecutor(_WORKERS, "ezproxy-parse") as pool:
        decoder = TextDecoder(findings)
        running: deque[Future[tuple[pa.RecordBatch | None, Findings]]] = deque()
        source_lines = LineSource(opened, findings, block_lines=batch_size)
        for block in source_lines:
            texts = decoder.texts(block)
            raw = block.lines if decoder.utf8_as_read else None
            running.append(pool.submit(parser.parse, findings.file, block.first, texts, raw))
            if len(running) > _WORKERS:
                yield _merged(findings, running.popleft().result())
        while running:
            yield _merged(findings, running.popleft().result())
        if source_lines.lines_read == 0 and not findings.truncated:
            findings.reject(1, "", EMPTY_FILE)
    yield findings.final()


def _merged(findings: Findings, result: tuple[pa.RecordBatch | None, Findings]) -> Chunk:
    batch, found = result
    findings.absorb(found)
    return findings.chunk(batch)


def _log_times(text: pa.Array) -> pa.Array:
    """``[05/Mar/2024:09:15:02 +0800]`` times → UTC; each distinct second is parsed once."""
    seconds = pc.dictionary_encode(text)
    parsed = pc.strptime(seconds.dictionary, format=_TIME_FORMAT, unit="s", error_is_null=True)
    return pc.take(parsed, seconds.indices)


def _error_status(status: pa.Array) -> pa.Array:
    return pc.or_(pc.equal(status, "-"), pc.greater_equal(status, "400"))


def _field(struct: pa.Array, name: str) -> pa.Array:
    return pc.struct_field(struct, name)


def _login_target(url: str) -> str | None:
    """The resource an EZproxy starting-point URL (``/login?url=…``) leads to."""
    match = _LOGIN.match(url)
    if match is None:
        return None
    target = match["target"]
    if match["param"].lower() == "qurl":
        target = unquote(target.split("&", 1)[0])
    elif target.lower().startswith(("http%3a", "https%3a")):
        target = unquote(target)
    return target


class _LogParser:
    """Turns blocks of log lines into RAW_SCHEMA batches; safe to run on several threads (all
    state is per call)."""

    def __init__(self, source: str, kind: str, proxy_suffix: str) -> None:
        self.source = source
        self.kind = kind
        self.proxy_suffix = proxy_suffix
        self.prefix = source_prefix(source)

    def parse(
        self, file: str, first: int, texts: list[str | None], raw: list[bytes] | None
    ) -> tuple[pa.RecordBatch | None, Findings]:
        findings = Findings(file)
        return self._parse(findings, first, texts, raw), findings

    def _parse(
        self, findings: Findings, first: int, texts: list[str | None], raw: list[bytes] | None
    ) -> pa.RecordBatch | None:
        # Python's regex engine splits a line into its fields faster than Arrow's RE2 extracts
        # them (submatch extraction is RE2's slow path); everything after is column-wise.
        parts, rows = self._split(findings, first, texts)
        n = len(rows)
        if n == 0:
            return None
        numbers = pa.array(
            range(first, first + n) if isinstance(rows, range) else [first + i for i in rows],
            pa.int64(),
        )
        check = ColumnChecks(n, numbers, findings)
        user, status, host, rest = parts["user"], parts["status"], parts["host"], parts["rest"]
        check.skip(pc.equal(user, "-"), ANONYMOUS)
        check.skip(_error_status(status), ERROR_STATUS)
        raw_time = parts["time"]
        occurred = _log_times(raw_time)
        check.flag(
            pc.and_(pc.invert(check.bad), occurred.is_null()),
            "time",
            lambda i: f"{BAD_TIME}: {raw_time[i].as_py()!r}",
        )
        check.skip(pc.invert(pc.is_in(parts["method"], _METHODS)), OTHER_METHOD)
        check.skip(pc.equal(host, ""), OWN_PAGE)
        rest = pc.if_else(pc.equal(rest, ""), "/", rest)
        check.skip(pc.match_substring_regex(rest, _ASSET), ASSET)

        kept = pc.indices_nonzero(pc.invert(check.bad))
        count = len(kept)
        if count == 0:
            return None
        host = self._host(pc.take(host, kept))
        rest = pc.take(rest, kept)
        platform, key = self._platform(host, rest)
        item = pc.if_else(key.is_valid(), pc.binary_join_element_wise(host, key, "/"), host)
        # An item id must fit the event schema; a long article key moves to attrs instead.
        long = pc.greater(pc.utf8_length(item), MAX_ITEM_ID)
        article = pc.if_else(long, key, pa.scalar(None, pa.string()))
        item = pc.if_else(long, host, item)
        is_download = pc.match_substring_regex(rest, _DOWNLOAD)
        lines = kept.to_pylist() if isinstance(rows, range) else [rows[i] for i in kept.to_pylist()]
        if raw is None:
            keys = [texts[i].encode() for i in lines]  # matched lines are never None
        else:
            keys = raw if count == len(texts) else [raw[i] for i in lines]
        session = pc.take(parts["ident"], kept)
        session = pc.if_else(pc.or_(pc.equal(session, "-"), pc.equal(session, "")), None, session)
        arrays = {
            "event_id": pa.array(event_ids_of_lines(self.prefix, keys), pa.string()),
            "identifier_kind": pa.array([self.kind] * count, pa.string()),
            "identifier_value": pc.take(user, kept),
            "patron_key": pa.nulls(count, pa.string()),
            "occurred_at": pc.cast(pc.take(occurred, kept), UTC_MICROS),
            "type": pc.if_else(is_download, DOWNLOAD, ERESOURCE_ACCESS),
            "channel": pa.array([WEB] * count, pa.string()),
            "branch": pa.nulls(count, pa.string()),
            "space": pa.nulls(count, pa.string()),
            "item_id": item,
            "subject": pa.nulls(count, pa.string()),
            "quantity": pa.nulls(count, pa.int64()),
            "duration_s": pa.nulls(count, pa.int64()),
            "attrs": attrs_from_columns(
                {"platform": platform, "article": article, "session": session}, count
            ),
            "source": pa.array([self.source] * count, pa.string()),
            "line": pc.take(numbers, kept),
        }
        return pa.RecordBatch.from_arrays([arrays[f] for f in RAW_SCHEMA.names], schema=RAW_SCHEMA)

    def _split(
        self, findings: Findings, first: int, texts: list[str | None]
    ) -> tuple[dict[str, pa.Array], list[int] | range]:
        """The fields of every log line as columns, and the block positions they came from;
        lines that are not log lines are rejected (or, for a "-" request, skipped) here.
        A field a line does not have (the host of a relative URL) is the empty string."""
        fields: list[tuple[str, ...]] = []
        rows: list[int] | range = range(len(texts))
        if None not in texts:
            fields = _LINES.findall("\n".join(texts))  # type: ignore[arg-type]
        if len(fields) != len(texts):
            fields, rows = [], []
            match = _LINE.match
            for i, text in enumerate(texts):
                found = match(text) if text else None
                if found is not None:
                    fields.append(found.groups(""))
                    rows.append(i)
                elif text and text.strip():
                    self._unmatched(findings, first + i, text)
        struct = pa.array(fields, _PARTS)
        parts = {name: struct.field(name) for name in _FIELDS}
        starts = pc.and_(pc.equal(parts["host"], ""), pc.starts_with(parts["rest"], "/login"))
        if pc.any(starts).as_py():
            parts["host"], parts["rest"] = self._login_targets(parts, starts)
        return parts, rows

    @staticmethod
    def _unmatched(findings: Findings, line: int, text: str) -> None:
        loose = _ANY_REQUEST.match(text)
        if loose is None:
            findings.reject(line, "", NOT_LOG_LINE)
        elif loose["status"] == "-" or loose["status"] >= "400":
            findings.count(ERROR_STATUS)  # a "-" request, as servers log timeouts (408)
        else:
            findings.reject(line, "request", f"{BAD_REQUEST}: {loose['request']!r}")

    @staticmethod
    def _login_targets(parts: dict[str, pa.Array], starts: pa.Array) -> tuple[pa.Array, pa.Array]:
        """Starting-point URLs (``/login?url=…``) replaced by the resource they open."""
        hosts = parts["host"].to_pylist()
        rests = parts["rest"].to_pylist()
        for i in pc.indices_nonzero(starts).to_pylist():
            target = _ABSOLUTE.match(_login_target(rests[i]) or "")
            if target is not None:
                hosts[i], rests[i] = target["host"] or "", target["rest"]
        return pa.array(hosts, pa.string()), pa.array(rests, pa.string())

    def _host(self, host: pa.Array) -> pa.Array:
        host = pc.utf8_lower(host)
        suffix = self.proxy_suffix
        if not suffix:
            return host
        proxied = pc.ends_with(host, "." + suffix)
        if not pc.any(proxied).as_py():
            return host
        # Proxy by hostname writes www.example.com as www-example-com.<suffix>, and a real
        # hyphen as two.
        inner = pc.utf8_slice_codeunits(host, 0, -(len(suffix) + 1))
        inner = pc.replace_substring(inner, "--", "\x00")
        inner = pc.replace_substring(inner, "-", ".")
        inner = pc.replace_substring(inner, "\x00", "-")
        return pc.if_else(proxied, inner, host)

    def _platform(self, host: pa.Array, rest: pa.Array) -> tuple[pa.Array, pa.Array]:
        """The platform name and the article key, where the host is a known platform.

        A log has few distinct hosts, so hosts are matched once each (on the dictionary) and
        article keys are extracted only from the rows of that platform.
        """
        hosts = pc.dictionary_encode(host)
        platform = pa.nulls(len(host), pa.string())
        key = pa.nulls(len(host), pa.string())
        for name, host_pattern, patterns in PLATFORMS:
            known = pc.match_substring_regex(hosts.dictionary, host_pattern)
            if not pc.any(known).as_py():
                continue
            on = pc.fill_null(pc.take(known, hosts.indices), False)
            platform = pc.if_else(on, name, platform)
            here = pc.filter(rest, on)
            parts = []
            for pattern, label in patterns:
                found = _field(pc.extract_regex(here, pattern), "key")
                if name == "cnki":
                    parts.append(pc.utf8_upper(found))
                else:
                    parts.append(pc.binary_join_element_wise(label, found, ""))
            if name == "cnki":  # dbcode/filename, or the filename alone
                found = pc.coalesce(pc.binary_join_element_wise(*parts, "/"), parts[1])
            else:
                found = pc.coalesce(*parts)
            key = pc.replace_with_mask(key, on, found)
        return platform, key
