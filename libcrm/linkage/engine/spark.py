"""A local-mode Spark session for the linkage engine's Spark backend.

Local mode only (the driver is the executor), bound to 127.0.0.1, no UI, nothing downloaded:
Splink's Spark backend needs no extra jars for the comparisons this model uses (Levenshtein
and array intersection are Spark built-ins). Intermediate tables are kept with ``persist``
(memory, spilling to ``spark.local.dir``, a private temp folder removed when the session
stops) rather than written out as Parquet checkpoints, so decrypted values are not left on
disk. Pure: no Django.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from typing import Any

_lock = threading.Lock()
_session: Any = None
_scratch: str | None = None


def spark_session(cores: int = 2) -> Any:
    """The process's local Spark session (started on first use, about 4 s)."""
    global _session, _scratch
    with _lock:
        if _session is not None:
            return _session
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        _scratch = tempfile.mkdtemp(prefix="libcrm-spark-")
        os.chmod(_scratch, 0o700)
        _session = (
            SparkSession.builder.master(f"local[{cores}]")
            .appName("libcrm-linkage")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(max(2, cores * 2)))
            .config("spark.default.parallelism", str(max(2, cores * 2)))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.local.dir", _scratch)
            .config("spark.driver.memory", "2g")
            .getOrCreate()
        )
        _session.sparkContext.setLogLevel("ERROR")
        return _session


def stop_spark_session() -> None:
    """Stops the session and removes its scratch folder."""
    global _session, _scratch
    with _lock:
        if _session is not None:
            _session.stop()
            _session = None
        if _scratch is not None:
            shutil.rmtree(_scratch, ignore_errors=True)
            _scratch = None


def spark_schema(schema: Any) -> Any:
    """The Spark schema of a prepared Arrow table (strings, integers, lists of strings)."""
    import pyarrow as pa
    from pyspark.sql import types as t

    def convert(arrow_type: Any) -> Any:
        if pa.types.is_int64(arrow_type):
            return t.LongType()
        if pa.types.is_integer(arrow_type):
            return t.IntegerType()
        if pa.types.is_floating(arrow_type):
            return t.DoubleType()
        if pa.types.is_list(arrow_type):
            return t.ArrayType(convert(arrow_type.value_type))
        return t.StringType()

    return t.StructType(
        [t.StructField(f.name, convert(f.type), nullable=f.nullable) for f in schema]
    )
