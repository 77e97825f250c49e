"""Running a rule on a profile table: DuckDB by default, Spark (local mode or a cluster) when
configured, the same compiled SQL on both.

The profile is an Arrow table or Parquet file(s) with one row per ``patron_key`` (the feature
table of :mod:`libcrm.features`, possibly joined with patron attributes). The answer is an
Arrow table in key order: ``patron_key``, then with ``reasons`` one boolean ``c<N>`` per field
condition (did it hold?) and the value of every field the rule reads. Pure: no Django.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlglot import exp

from libcrm.segments.compiler import KEY, CompiledRule, compile_rule
from libcrm.segments.rules import Catalogue, Limits, Resolver

ENGINES = ("duckdb", "spark")
Source = pa.Table | str | Path | Sequence[str | Path]


def evaluate(
    rule: Any,
    catalogue: Catalogue,
    source: Source,
    as_of: date,
    *,
    engine: str = "duckdb",
    resolve: Resolver | None = None,
    reasons: bool = True,
    patron_key: str | None = None,
    connection: Any = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen, never mutated
) -> pa.Table:
    """The members of ``rule`` in ``source`` as of ``as_of`` (raises
    :class:`~.rules.InvalidRule` for a rule with problems). ``connection`` is a DuckDB
    connection or a Spark session to run on (default: a new in-memory DuckDB / the process's
    local Spark session)."""
    compiled = compile_rule(rule, catalogue, as_of, resolve, limits=limits)
    return run(
        compiled,
        source,
        engine=engine,
        reasons=reasons,
        patron_key=patron_key,
        connection=connection,
    )


def run(
    compiled: CompiledRule,
    source: Source,
    *,
    engine: str = "duckdb",
    reasons: bool = True,
    patron_key: str | None = None,
    connection: Any = None,
) -> pa.Table:
    """Runs a compiled rule (see :func:`evaluate`)."""
    if engine not in ENGINES:
        raise ValueError(f"analytics engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    relation = f"segment_profile_{secrets.token_hex(4)}"
    if engine == "spark":
        table = _on_spark(compiled, source, relation, reasons, patron_key, connection)
    else:
        table = _on_duckdb(compiled, source, relation, reasons, patron_key, connection)
    return _normalised(table, compiled, _schema(source), reasons)


def _paths(source: Source) -> list[str]:
    if isinstance(source, str | Path):
        return [str(source)]
    return [str(p) for p in source]  # type: ignore[union-attr]


def _schema(source: Source) -> pa.Schema:
    if isinstance(source, pa.Table):
        return source.schema
    return pq.read_schema(_paths(source)[0])


def _on_duckdb(
    compiled: CompiledRule,
    source: Source,
    relation: str,
    reasons: bool,
    patron_key: str | None,
    connection: Any,
) -> pa.Table:
    import duckdb

    con = connection if connection is not None else duckdb.connect()
    cur = con.cursor()
    try:
        scan: str | exp.Expression
        if isinstance(source, pa.Table):
            cur.register(relation, source)
            scan = relation
        else:
            # Scanned in the query itself: a view per call costs more than the query on a
            # profile of 100,000 rows. The paths are the installation's, not user input, and
            # travel as literals all the same.
            paths = [exp.Literal.string(p) for p in _paths(source)]
            scan = exp.Table(
                this=exp.Anonymous(this="read_parquet", expressions=[exp.Array(expressions=paths)])
            )
        sql = compiled.sql(scan, "duckdb", reasons=reasons, patron_key=patron_key)
        return cur.execute(sql).to_arrow_table()
    finally:
        if isinstance(source, pa.Table):
            cur.unregister(relation)
        cur.close()
        if connection is None:
            con.close()


def _on_spark(
    compiled: CompiledRule,
    source: Source,
    relation: str,
    reasons: bool,
    patron_key: str | None,
    session: Any,
) -> pa.Table:
    if session is None:
        from libcrm.linkage.engine.spark import spark_session

        session = spark_session()
    scratch = None
    try:
        if isinstance(source, pa.Table):
            # Spark reads an Arrow table most faithfully (dates, lists) through Parquet.
            scratch = tempfile.mkdtemp(prefix="libcrm-segments-")
            pq.write_table(source, f"{scratch}/profile.parquet")
            paths = [f"{scratch}/profile.parquet"]
        else:
            paths = _paths(source)
        session.read.parquet(*paths).createOrReplaceTempView(relation)
        sql = compiled.sql(relation, "spark", reasons=reasons, patron_key=patron_key)
        return session.sql(sql).toArrow()
    finally:
        session.catalog.dropTempView(relation)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _normalised(
    table: pa.Table, compiled: CompiledRule, schema: pa.Schema, reasons: bool
) -> pa.Table:
    """One schema whatever the engine (they differ in list and integer types, not values)."""
    fields = [pa.field(KEY, pa.string())]
    if reasons:
        fields += [pa.field(leaf.column, pa.bool_()) for leaf in compiled.leaves]
        fields += [schema.field(name) for name in compiled.fields if name != KEY]
    target = pa.schema(fields)
    return table.select(target.names).rename_columns(target.names).cast(target)
