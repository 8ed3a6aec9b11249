"""What PostgreSQL would do with a statement prepared on the tables as they are now."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection


def whole_table_scans(conn: Connection, sql: str, types: Mapping[str, str]) -> list[str]:
    """Tables the generic plan of ``sql`` scans whole (``Seq Scan``), as psycopg's prepared
    statements get it after a few runs (``plan_cache_mode = force_generic_plan``).

    ``sql`` names its parameters ``:name`` or ``%(name)s``; ``types`` gives each one's SQL type."""
    numbers = {name: i for i, name in enumerate(types, 1)}
    numbered = re.sub(
        r"%\((\w+)\)s|(?<![:\w]):(\w+)\b",
        lambda m: f"${numbers[m.group(1) or m.group(2)]}",
        sql,
    )
    conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    conn.exec_driver_sql(f"PREPARE probe_plan({', '.join(types.values())}) AS {numbered}")
    try:
        nulls = ", ".join("NULL" for _ in types)
        explained = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) EXECUTE probe_plan({nulls})").scalar_one()
    finally:
        conn.exec_driver_sql("DEALLOCATE probe_plan")
        conn.exec_driver_sql("RESET plan_cache_mode")
    return _seq_scans(explained[0]["Plan"])


def _seq_scans(plan: Mapping[str, Any]) -> list[str]:
    found = [str(plan["Relation Name"])] if plan.get("Node Type") == "Seq Scan" else []
    return found + [name for child in plan.get("Plans", []) for name in _seq_scans(child)]
