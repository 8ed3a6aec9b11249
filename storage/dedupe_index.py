"""The duplicate index in the database, where every worker sees it.

``article_bands`` holds one row per (LSH band key, article): the MinHash
band keys from :func:`worker.dedupe.minhash.fingerprint`. It is derived data (a
rebuild from ``articles`` recreates it), it lives in the same transaction as
the article row, so it cannot drift from it. Exact copies are found through
``articles.content_hash`` (indexed by the articles table's owner).

Concurrency: :func:`lock_fingerprint` takes PostgreSQL transaction-level
advisory locks on the article's band keys and content hash, sorted (so two
writers can never wait on each other in a cycle). Two copies of one story
share their content hash or at least one band key, so the second waits until
the first has committed its article and bands, then its candidate query (a
new statement, a new READ COMMITTED snapshot) sees the first. Unrelated
articles share no key and never wait for each other. On SQLite writers are
serialised by the database lock; open the transaction with ``BEGIN
IMMEDIATE`` so that the check and the insert happen under it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    MetaData,
    Table,
    any_,
    bindparam,
    func,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable, Select
from sqlalchemy.sql.elements import ColumnElement, TextClause

from worker.model.dedupe import (
    MAX_VERIFY,
    DuplicateCheck,
    DuplicateVerdict,
    Fingerprint,
    FingerprintOf,
    IndexedArticle,
)
from worker.model.urls import site_of

BANDS_TABLE = "article_bands"
#: Rows per INSERT statement when registering many articles at once.
INSERT_BATCH = 1000

_LOCK_SQL = text(
    # unnest() yields the array in order, so the locks are taken in the sorted
    # order the array was built in: no lock-order cycles between writers.
    "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS t(k)"
)


def band_table(metadata: MetaData, *, name: str = BANDS_TABLE, articles_fk: str | None = None) -> Table:
    """Define ``article_bands`` on the caller's MetaData.

    ``articles_fk`` (e.g. ``"articles.id"``) adds a foreign key with ``ON
    DELETE CASCADE`` so that deleting an article removes its bands.
    """
    article_col: Column[int] = (
        Column(
            "article_id", BigInteger, ForeignKey(articles_fk, ondelete="CASCADE"), primary_key=True, autoincrement=False
        )
        if articles_fk
        else Column("article_id", BigInteger, primary_key=True, autoincrement=False)
    )
    table = Table(
        name,
        metadata,
        Column("band_key", BigInteger, primary_key=True, autoincrement=False),
        article_col,
    )
    Index(f"ix_{name}_article_id", table.c.article_id)
    return table


def _in_list(dialect: str, column: ColumnElement[int], name: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(BigInteger)))
    return column.in_(bindparam(name, expanding=True))


def _by_ids(
    dialect: str, query: Select[*tuple[Any, ...]], key: ColumnElement[int], name: str
) -> Select[*tuple[Any, ...]]:
    """``query`` for the rows whose ``key`` is in the list ``name``.

    On PostgreSQL one primary-key probe per id (unnest + LATERAL; OFFSET 0 keeps the planner from
    flattening it into a join), not ``key = ANY(:ids)``: psycopg prepares a statement after a few
    runs, and a generic plan made while the table was nearly empty scans it whole, every row and
    its text, on every later call (see storage.story_index)."""
    if dialect != "postgresql":
        return query.where(_in_list(dialect, key, name))
    ids = func.unnest(bindparam(name, type_=postgresql.ARRAY(BigInteger))).table_valued("id").render_derived(name="k")
    probe = query.where(key == ids.c.id).offset(0).lateral("p")
    return select(probe).select_from(ids).join(probe, true())


def content_hash_lock_key(content_hash: str) -> int:
    """Signed 64-bit advisory-lock key for a content hash (first 8 bytes)."""
    return int.from_bytes(bytes.fromhex(content_hash[:16]), "big", signed=True)


def lock_keys(fp: Fingerprint) -> list[int]:
    return sorted({*fp.band_keys, content_hash_lock_key(fp.content_hash)})


def lock_fingerprint(conn: Connection, fp: Fingerprint) -> bool:
    """Serialise writers of similar articles until this transaction ends.

    Must be the first statement of the transaction if it runs at REPEATABLE
    READ or above (the snapshot must be taken after the wait); the default
    READ COMMITTED has no such constraint. Returns False where the database
    needs no advisory lock (SQLite).
    """
    if conn.dialect.name != "postgresql":
        return False
    conn.execute(_LOCK_SQL, {"keys": lock_keys(fp)})
    return True


@dataclass(frozen=True, slots=True)
class ArticleColumns:
    """The columns of the lead's ``articles`` table that dedupe reads."""

    id: ColumnElement[int]
    content_hash: ColumnElement[str]
    duplicate_of: ColumnElement[int | None]
    text: ColumnElement[str]
    #: canonical address; candidates' sites come from it (same-site rule)
    url: ColumnElement[str] | None = None
    #: headline (short texts are copies only under the same headline)
    title: ColumnElement[str | None] | None = None

    @classmethod
    def from_table(cls, table: Table) -> ArticleColumns:
        """From a table with ``id``, ``content_hash``, ``duplicate_of``, ``text`` (and ``url``,
        ``title``)."""
        c = table.c
        return cls(c.id, c.content_hash, c.duplicate_of, c.text, c.get("url"), c.get("title"))


@dataclass(frozen=True, slots=True)
class IndexStatements:
    """The three reads of :class:`SqlDuplicateIndex` for one dialect, bands table and articles
    table. Building them costs more client CPU than running them (~0.1 ms an article), so a
    caller that makes an index per transaction builds these once and passes them in."""

    exact: Executable
    candidates: Executable
    load: Executable

    @classmethod
    def build(cls, dialect: str, bands: Table, articles: ArticleColumns) -> IndexStatements:
        a, b = articles, bands.c
        url = a.url if a.url is not None else literal("")
        title = a.title if a.title is not None else literal("")
        return cls(
            exact=(
                select(a.id, a.duplicate_of, url, title)
                .where(a.content_hash == bindparam("content_hash"))
                .order_by(a.id)
                .limit(1)
            ),
            candidates=(
                select(b.article_id)
                .where(_in_list(dialect, b.band_key, "keys"))
                .group_by(b.article_id)
                .order_by(func.count().desc(), b.article_id)
                .limit(bindparam("limit"))
            ),
            load=_by_ids(dialect, select(a.id, a.text, a.duplicate_of, url, title), a.id, "ids"),
        )


class SqlDuplicateIndex:
    """:class:`worker.dedupe.minhash.DuplicateIndex` over SQLAlchemy Core, one connection.

    Statements are built once per instance (or given, see :class:`IndexStatements`); on
    PostgreSQL the id and key lists travel as one array parameter (``= ANY(:keys)``), which
    costs about half the client CPU of an expanded ``IN (...)`` of 42 parameters.
    """

    def __init__(
        self, conn: Connection, bands: Table, articles: ArticleColumns, *, statements: IndexStatements | None = None
    ) -> None:
        self.conn = conn
        self.bands = bands
        self.articles = articles
        built = statements or IndexStatements.build(conn.dialect.name, bands, articles)
        self._exact = built.exact
        self._candidates = built.candidates
        self._load = built.load

    def find_exact(self, content_hash: str) -> IndexedArticle | None:
        row = self.conn.execute(self._exact, {"content_hash": content_hash}).first()
        if row is None:
            return None
        # The text is not needed for an exact match; do not ship it.
        return IndexedArticle(
            int(row[0]), "", None if row[1] is None else int(row[1]), site_of(row[2] or ""), row[3] or ""
        )

    def candidates(self, band_keys: Sequence[int], limit: int = MAX_VERIFY) -> list[int]:
        if not band_keys:
            return []
        rows = self.conn.execute(self._candidates, {"keys": list(band_keys), "limit": limit})
        return [int(r[0]) for r in rows]

    def load(self, ids: Sequence[int]) -> list[IndexedArticle]:
        if not ids:
            return []
        rows = self.conn.execute(self._load, {"ids": list(ids)})
        return [
            IndexedArticle(int(r[0]), r[1] or "", None if r[2] is None else int(r[2]), site_of(r[3] or ""), r[4] or "")
            for r in rows
        ]

    def add(self, article_id: int, fp: Fingerprint) -> None:
        add_bands(self.conn, self.bands, [(article_id, fp)])


def add_bands(conn: Connection, bands: Table, items: Sequence[tuple[int, Fingerprint]]) -> int:
    """Insert band rows, sorted by key, ``ON CONFLICT DO NOTHING``; idempotent.

    Sorting each batch by its conflict key keeps concurrent writers from
    deadlocking on the primary-key index. Returns the number of rows sent.
    """
    rows = sorted({(key, article_id) for article_id, fp in items if fp.comparable for key in fp.band_keys})
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # Two arrays, one statement: 4x less client CPU than an executemany of
        # dicts; unnest() keeps the sorted order.
        pg_stmt = _insert_statement(dialect, bands)
        for start in range(0, len(rows), INSERT_BATCH):
            batch = rows[start : start + INSERT_BATCH]
            conn.execute(pg_stmt, {"keys": [k for k, _ in batch], "ids": [i for _, i in batch]})
        return len(rows)
    if dialect != "sqlite":
        raise NotImplementedError(f"article_bands upsert not written for {dialect}")
    stmt = _insert_statement(dialect, bands)
    for start in range(0, len(rows), INSERT_BATCH):
        batch = rows[start : start + INSERT_BATCH]
        conn.execute(stmt, [{"band_key": k, "article_id": i} for k, i in batch])
    return len(rows)


# (dialect, bands table) -> its insert statement: every stored article runs one
_INSERTS: dict[tuple[str, Table], Any] = {}


def _insert_statement(dialect: str, bands: Table) -> Any:
    statement = _INSERTS.get((dialect, bands))
    if statement is None:
        if dialect == "postgresql":
            statement = _pg_insert_sql(bands)
        else:
            statement = sqlite.insert(bands).on_conflict_do_nothing(index_elements=["band_key", "article_id"])
        _INSERTS[(dialect, bands)] = statement
    return statement


def _pg_insert_sql(bands: Table) -> TextClause:
    return text(
        f'INSERT INTO "{bands.name}" (band_key, article_id) '
        "SELECT k, a FROM unnest(CAST(:keys AS bigint[]), CAST(:ids AS bigint[])) AS t(k, a) "
        "ON CONFLICT (band_key, article_id) DO NOTHING"
    )


def rebuild_bands(
    conn: Connection, bands: Table, articles: ArticleColumns, fingerprint: FingerprintOf, *, batch: int = 500
) -> int:
    """Recompute every band row from the articles' text (after a
    ``FINGERPRINT_VERSION`` change, or to prove the index matches the data).

    Deletes all rows first; run it in one transaction (or while ingest is
    paused) so no worker sees a half-built index. Returns articles indexed.
    """
    conn.execute(bands.delete())
    done = 0
    last_id: int | None = None
    while True:
        query = select(articles.id, articles.text).order_by(articles.id).limit(batch)
        if last_id is not None:
            query = query.where(articles.id > last_id)
        rows = conn.execute(query).all()
        if not rows:
            return done
        add_bands(conn, bands, [(int(r[0]), fingerprint(r[1] or "")) for r in rows])
        done += len(rows)
        last_id = int(rows[-1][0])


def remove_bands(conn: Connection, bands: Table, article_id: int) -> None:
    """Forget an article (e.g. before re-fingerprinting changed text)."""
    conn.execute(bands.delete().where(bands.c.article_id == article_id))


def dedupe_and_store(
    conn: Connection,
    index: SqlDuplicateIndex,
    fp: Fingerprint,
    insert_article: Callable[[DuplicateVerdict], int],
    *,
    check: DuplicateCheck,
    site: str = "",
    title: str | None = None,
) -> tuple[int, DuplicateVerdict]:
    """The whole race-free ingest step, inside the caller's transaction.

    lock (PostgreSQL) → exact hash / LSH candidates → exact verification →
    ``insert_article(verdict)`` (the caller inserts the article row with
    ``content_hash=fp.content_hash`` and ``duplicate_of=verdict.original_id``
    and returns its id) → band rows. The caller commits; the commit releases
    the locks. Call it before any other write in the transaction, so the
    transaction holds no row lock while it waits for a band lock. ``site``
    is ``worker.model.urls.site_of(url)`` of the new article, ``title`` its headline.
    """
    lock_fingerprint(conn, fp)
    verdict = check(fp, index, site=site, title=title)
    article_id = insert_article(verdict)
    index.add(article_id, fp)
    return article_id, verdict


def dedupe_existing(
    conn: Connection,
    index: SqlDuplicateIndex,
    article_id: int,
    fp: Fingerprint,
    *,
    check: DuplicateCheck,
    site: str = "",
    title: str | None = None,
) -> DuplicateVerdict:
    """Re-run dedupe for a stored article whose text changed (feed summary →
    extracted page) or for a re-delivered task.

    Locks like :func:`dedupe_and_store`, checks without finding the article
    itself, and replaces its band rows. The caller then sets ``content_hash``
    and ``duplicate_of`` from ``fp`` and the verdict in the same transaction.
    """
    lock_fingerprint(conn, fp)
    verdict = check(fp, index, exclude_id=article_id, site=site, title=title)
    remove_bands(conn, index.bands, article_id)
    index.add(article_id, fp)
    return verdict
