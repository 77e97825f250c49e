"""Streaming records out of JSON documents: shapes, line numbers, recovery."""

from __future__ import annotations

import io
import json
from typing import Any

from libcrm.events.connectors.base import Findings
from libcrm.events.connectors.jsonstream import JsonRecords
from libcrm.events.connectors.reading import open_input


def records(
    data: bytes, keys: tuple[str, ...] = ("loans",)
) -> tuple[list[Any], Findings, dict[str, Any]]:
    findings = Findings("f.json")
    with open_input(io.BytesIO(data)) as opened:
        reader = JsonRecords(opened, findings, container_keys=keys)
        found = [(r.line, r.path, r.value) for r in reader]
    return found, findings, reader.header


def test_a_long_pretty_printed_wrapper_streams_with_exact_line_numbers() -> None:
    loans = [{"id": f"l{n}", "note": "中文" * (n % 7)} for n in range(40000)]
    data = json.dumps({"totalRecords": 40000, "loans": loans}, ensure_ascii=False, indent=2)
    found, findings, header = records(data.encode())
    assert len(found) == 40000 and not findings.rejects
    assert header == {"totalRecords": 40000}
    lines = data.splitlines()
    for line, path, value in (found[0], found[12345], found[-1]):
        assert lines[line - 1].strip() == "{"
        assert f'"id": "{value["id"]}"' in lines[line]
        assert path == f"$.loans[{int(value['id'][1:])}]"


def test_top_level_arrays_single_objects_and_ndjson() -> None:
    assert [p for _, p, _ in records(b'[{"id": 1}, {"id": 2}]')[0]] == ["$[0]", "$[1]"]
    assert records(b'{"id": 1}')[0] == [(1, "$", {"id": 1})]
    assert [line for line, _, _ in records(b'{"id": 1}\n\n{"id": 2}\n')[0]] == [1, 3]


def test_a_malformed_top_level_record_is_skipped_to_the_next_line() -> None:
    found, findings, _ = records(b'{"id": 1}\n{"id": }\n{"id": 3}\n')
    assert [v["id"] for _, _, v in found] == [1, 3]
    assert [(r.line, r.field, r.reason) for r in findings.rejects] == [
        (2, "", "malformed JSON (Expecting value at line 2 column 8)")
    ]


def test_a_record_spanning_an_undecodable_line_is_rejected_whole() -> None:
    data = b'[\n  {\n    "id": "a",\n    "t": "X"\n  },\n  {\n    "id": "b"\n  }\n]\n'
    found, findings, _ = records(data.replace(b'"X"', b'"\xff\xfe"'))
    assert [v["id"] for _, _, v in found] == ["b"]
    assert sorted((r.line, r.field, r.reason) for r in findings.rejects) == [
        (2, "$[0]", "contains line 4, not valid UTF-8 or GB18030"),
        (4, "", "line 4: not valid UTF-8 or GB18030"),
    ]


def test_text_that_is_not_json_at_all() -> None:
    found, findings, _ = records(b"hello\n")
    assert found == []
    assert findings.rejects[0].reason.startswith("malformed JSON (expected a JSON object or array")
