"""Planner statistics for PostgreSQL servers that run without autovacuum.

The story index and the dedupe bands are read with ``= ANY(array)`` lookups. Without statistics
PostgreSQL's planner guesses that such a lookup matches a large share of the table and scans it
whole; on a growing database that is tens of milliseconds per article inside the linker's
serialised section instead of one or two. Autovacuum's ANALYZE keeps statistics fresh; where a
server has it switched off (some CI and test configurations do), newsworker applies the same rule
to its own tables (``analyze_changed_tables``), and does nothing where autovacuum runs.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection


def autovacuum_is_off(conn: Connection) -> bool:
    """PostgreSQL only (the caller checks the dialect)."""
    return bool(conn.execute(text("SELECT current_setting('autovacuum')")).scalar_one() == "off")


def tables_needing_analyze(conn: Connection, *, threshold: int, scale: float) -> list[str]:
    """Tables of this schema changed by more than ``threshold`` rows + ``scale`` × their size
    since their last ANALYZE (autovacuum's ``analyze_threshold`` / ``analyze_scale_factor``)."""
    rows = conn.execute(
        text(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema()"
            " AND n_mod_since_analyze > :threshold + :scale * greatest(n_live_tup, 0) ORDER BY relname"
        ),
        {"threshold": threshold, "scale": scale},
    )
    return [str(name) for (name,) in rows]


def analyze(conn: Connection, table: str) -> None:
    conn.execute(text(f"ANALYZE {conn.dialect.identifier_preparer.quote(table)}"))
