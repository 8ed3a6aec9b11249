"""What an operator meets at the command line (issue 18), through the real entry point
(a subprocess running ``python -m worker``) on SQLite and PostgreSQL: exit codes, progress
and summaries of ``run``, log formats, one-line errors, settings warnings, the broker check
of ``beat``/``worker``, ``--json`` on read commands, unwrapped output when piped, merged
stories, counts, interrupted re-ingests, ``articles list`` and ids that are never reused."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text, update

from storage.db import Database
from storage.models import Article, ReingestItem, ReingestRun, Story
from storage.schema import upgrade
from tests.support.httpserver import LocalHTTPServer, Reply
from tests.support.processes import REPO, run_cli
from tests.support.services import free_port

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
LOOPBACK = "127.0.0.0/8"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWORKER_")}
    env["PYTHONPATH"] = str(REPO)
    env.pop("COLUMNS", None)
    env.update(extra)
    return env


def nw(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real entry point in a subprocess: for exit codes, signals, terminals and pipes."""
    return run_cli(*args, env=env, cwd=cwd, expect=None)


def cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The same click entry point in this process (CliRunner): several times faster than a subprocess."""
    from worker.cli import cli as entry_point

    result = CliRunner().invoke(entry_point, list(args), env=env, prog_name="newsworker")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli_env(database: Database) -> dict[str, str]:
    """A migrated, empty database on each backend, as the environment a command reads."""
    return {"NEWSWORKER_DATABASE_URL": database.url}


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as srv:
        for name in ("rss2.xml", "atom.xml"):
            srv.route(f"/{name}", Reply(200, {"Content-Type": "application/xml"}, (FEEDS / name).read_bytes()))
        srv.route("/broken.xml", Reply(503, {"Content-Type": "text/plain"}, b"down for maintenance"))
        yield srv


@pytest.fixture
def db_env(database: Database) -> dict[str, str]:
    """A migrated, empty database on each backend, as a subprocess's environment."""
    return _env(NEWSWORKER_DATABASE_URL=database.url)


def _upgrade(env: dict[str, str]) -> None:
    url = env["NEWSWORKER_DATABASE_URL"]
    db = Database(url)
    try:
        upgrade(db.engine, url)
    finally:
        db.dispose()


def _one_line(stream: str) -> str:
    lines = [line for line in stream.splitlines() if line.strip()]
    assert len(lines) == 1, stream
    return lines[0]


# ------------------------------------------------------------------ run: exit codes, progress, summaries


def test_run_once_exits_1_when_a_feed_failed_and_names_the_feeds_backing_off(
    db_env: dict[str, str], tmp_path: Path, server: LocalHTTPServer
) -> None:
    env = {**db_env, "NEWSWORKER_ALLOWED_NETWORKS": LOOPBACK}
    assert cli("feeds", "add", server.url("/rss2.xml"), env=env).returncode == 0
    assert cli("feeds", "add", server.url("/broken.xml"), env=env).returncode == 0
    first = nw("run", "--once", env=env, cwd=tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr  # the README: 1 = some items failed
    assert "feeds polled: 2, articles new: 2, seen before: 0, errors: 1" in first.stdout
    # not a terminal: one plain line per feed polled, the failure with its next try
    assert re.search(r"^feed 1: ok, 2 new entries$", first.stdout, flags=re.MULTILINE), first.stdout
    assert re.search(r"^feed 2 \S+/broken\.xml: HTTP 503; 1 error\(s\) in a row, next try ", first.stdout, re.M)
    # nothing is due now: the rerun says which feed is backing off and until when
    again = nw("run", "--once", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "feeds polled: 0, articles new: 0, seen before: 0, errors: 0" in again.stdout
    assert re.search(r"backing off: feed 2 \S+/broken\.xml: HTTP 503; .*next try \d{4}-\d\d-\d\d ", again.stderr)
    assert "newsworker feeds reset" in again.stderr


def test_a_poll_refused_as_private_names_both_settings(tmp_path: Path, server: LocalHTTPServer) -> None:
    env = _env(NEWSWORKER_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}")
    _upgrade(env)
    added = nw(
        "feeds", "add", server.url("/rss2.xml"), env={**env, "NEWSWORKER_ALLOWED_NETWORKS": LOOPBACK}, cwd=tmp_path
    )
    assert added.returncode == 0
    result = nw("run", "--once", env=env, cwd=tmp_path)  # the allowance is gone
    assert result.returncode == 1 and "errors: 1" in result.stdout
    assert "non-public address" in result.stdout
    assert "NEWSWORKER_ALLOWED_NETWORKS" in result.stdout and "NEWSWORKER_ALLOW_PRIVATE_NETWORKS" in result.stdout
    assert server.hit_count() == 0


def test_continuous_run_prints_each_pass_and_a_summary_on_ctrl_c(tmp_path: Path, server: LocalHTTPServer) -> None:
    env = _env(
        NEWSWORKER_DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}",
        NEWSWORKER_ALLOWED_NETWORKS=LOOPBACK,
        PYTHONUNBUFFERED="1",
    )
    _upgrade(env)
    assert cli("feeds", "add", server.url("/rss2.xml"), env=env).returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 90
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("pass 1 done:"):
                break
        assert lines and lines[-1].startswith("pass 1 done: feeds polled: 1, articles new: 2"), lines
        assert "next poll" in lines[-1]
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "interrupted: feeds polled: 1, articles new: 2, seen before: 0, errors: 0" in out


def _pty_run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 90) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a terminal; return its exit code and everything it wrote."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "worker", *args], env=env, cwd=cwd, stdout=follower, stderr=follower, close_fds=True
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_on_a_terminal_run_shows_a_live_display_and_console_logs(tmp_path: Path, server: LocalHTTPServer) -> None:
    env = _env(
        NEWSWORKER_DATABASE_URL=f"sqlite:///{tmp_path / 't.db'}",
        NEWSWORKER_ALLOWED_NETWORKS=LOOPBACK,
        NEWSWORKER_LOG_LEVEL="DEBUG",
        TERM="xterm",
        COLUMNS="200",
    )
    _upgrade(env)
    assert cli("feeds", "add", server.url("/atom.xml"), env=env).returncode == 0
    code, screen = _pty_run(["run", "--once"], env, tmp_path)
    assert code == 0, screen
    assert "\x1b[" in screen and "1/1" in screen  # rich's live progress (pass 1: 1 of 1 feeds)
    assert "feeds polled: 1, articles new: 2, seen before: 0, errors: 0" in screen
    # logs: console lines by default on a terminal, with the event's fields
    log_lines = [ln for ln in screen.splitlines() if "newsworker.run: feed polled" in ln]
    assert log_lines and not log_lines[0].lstrip().startswith("{"), screen
    assert "feed_id=1" in log_lines[0] and "outcome=ok" in log_lines[0]


def test_on_a_terminal_import_shows_its_progress_through_the_file(tmp_path: Path) -> None:
    env = _env(NEWSWORKER_DATABASE_URL=f"sqlite:///{tmp_path / 't.db'}", TERM="xterm", COLUMNS="200")
    body = "The council voted to rebuild the river bridge after engineers found cracks in its supports. " * 4
    lines = [json.dumps({"url": f"https://news.example/{n}", "title": f"Bridge {n}", "text": body}) for n in range(40)]
    path = tmp_path / "archive.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, screen = _pty_run(["import", str(path)], env, tmp_path)
    assert code == 0, screen
    assert "\x1b[" in screen and "archive.jsonl" in screen and "100%" in screen  # rich's live bar, by bytes
    assert "line 40: 40 new, 0 stored, 0 skipped" in screen  # the final counts, not the line before
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)  # the summary's numbers are highlighted
    assert "imported 40 new article(s), 0 already stored, 0 line(s) skipped" in plain
    piped = nw("import", str(path), env=env, cwd=tmp_path)  # not a terminal: no bar, the summary only
    assert "\x1b[" not in piped.stderr and "100%" not in piped.stderr
    assert "imported 0 new article(s), 40 already stored" in piped.stdout


def _console_fields(line: str) -> tuple[str, dict[str, str]]:
    match = re.match(r"^(\S+) (\w+)\s+(\S+): (.*?)  (\w+=.*)$", line)
    assert match, line
    fields = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', match.group(5)))
    return match.group(4), {"ts": match.group(1), "level": match.group(2), "logger": match.group(3), **fields}


def test_log_format_console_and_json_carry_the_same_fields(tmp_path: Path, server: LocalHTTPServer) -> None:
    base = _env(NEWSWORKER_ALLOWED_NETWORKS=LOOPBACK, NEWSWORKER_LOG_LEVEL="DEBUG")
    events = {}
    for fmt in ("console", "json"):
        env = {**base, "NEWSWORKER_DATABASE_URL": f"sqlite:///{tmp_path / fmt}.db", "NEWSWORKER_LOG_FORMAT": fmt}
        _upgrade(env)
        assert cli("feeds", "add", server.url("/rss2.xml"), env=env).returncode == 0
        result = nw("run", "--once", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        (line,) = [ln for ln in result.stderr.splitlines() if "feed polled" in ln]
        if fmt == "json":
            payload = json.loads(line)
            events[fmt] = (payload.pop("event"), {k: str(v) for k, v in payload.items()})
        else:
            events[fmt] = _console_fields(line)
    (c_event, c_fields), (j_event, j_fields) = events["console"], events["json"]
    assert c_event == j_event == "feed polled"
    assert set(c_fields) == set(j_fields) >= {"ts", "level", "logger", "feed_id", "outcome", "new_entries"}
    assert c_fields["feed_id"] == j_fields["feed_id"] == "1" and c_fields["outcome"] == j_fields["outcome"] == "ok"
    assert c_fields["level"].lower() == j_fields["level"] == "debug"


# ------------------------------------------------------------------ feeds add


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1/feed",
        "http://localhost:8080/rss",
        "http://10.0.0.1/rss",
        "http://[::1]/rss",
        "http://0x7f000001/",
    ],
)
def test_feeds_add_refuses_private_addresses_naming_both_settings(
    cli_env: dict[str, str], tmp_path: Path, address: str
) -> None:
    refused = cli("feeds", "add", address, env=cli_env, cwd=tmp_path)
    assert refused.returncode == 2
    line = _one_line(refused.stderr)
    assert "not a public address" in line
    assert "NEWSWORKER_ALLOWED_NETWORKS" in line and "NEWSWORKER_ALLOW_PRIVATE_NETWORKS=true" in line
    assert cli("feeds", "list", "--json", env=cli_env, cwd=tmp_path).stdout == ""
    for allowance in (
        {"NEWSWORKER_ALLOW_PRIVATE_NETWORKS": "true"},
        {"NEWSWORKER_ALLOWED_NETWORKS": "10.0.0.0/8,127.0.0.0/8,::1/128"},
    ):
        allowed = cli("feeds", "add", address, env={**cli_env, **allowance}, cwd=tmp_path)
        assert allowed.returncode == 0, allowed.stderr


def test_feeds_add_of_a_stored_feed_updates_title_and_tags(cli_env: dict[str, str], tmp_path: Path) -> None:
    url = "https://news.example.org/world.xml"
    assert (
        "added: feed 1"
        in cli("feeds", "add", url, "--title", "World", "--tag", "news", env=cli_env, cwd=tmp_path).stdout
    )
    same = cli("feeds", "add", url, env=cli_env, cwd=tmp_path)
    assert same.returncode == 0 and "already present: feed 1" in same.stdout
    changed = cli(
        "feeds", "add", url, "--title", "World news", "--tag", "news", "--tag", "daily", env=cli_env, cwd=tmp_path
    )
    assert changed.returncode == 0
    assert (
        "updated: feed 1" in changed.stdout
        and "'World' -> 'World news'" in changed.stdout
        and "daily" in changed.stdout
    )
    (row,) = [json.loads(x) for x in cli("feeds", "list", "--json", env=cli_env, cwd=tmp_path).stdout.splitlines()]
    assert row["title"] == "World news" and row["tags"] == ["news", "daily"]


def test_feed_lists_skip_literal_private_addresses(tmp_path: Path, server: LocalHTTPServer) -> None:
    env = _env(NEWSWORKER_DATABASE_URL=f"sqlite:///{tmp_path / 'l.db'}")
    (tmp_path / "feeds.txt").write_text(server.url("/rss2.xml") + "\nhttps://news.example.org/rss\n")
    _upgrade(env)
    result = cli("feeds", "import", "feeds.txt", env=env)
    assert result.returncode == 1 and "1 feed(s) added" in result.stdout and "1 invalid skipped" in result.stdout
    assert "NEWSWORKER_ALLOWED_NETWORKS" in result.stderr and server.hit_count() == 0


# ------------------------------------------------------------------ ids never reused


def test_feed_ids_are_never_reused_after_a_remove(cli_env: dict[str, str], tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert cli("feeds", "add", f"https://{name}.example.org/rss", env=cli_env, cwd=tmp_path).returncode == 0
    assert cli("feeds", "remove", "2", env=cli_env, cwd=tmp_path).returncode == 0
    third = cli("feeds", "add", "https://c.example.org/rss", env=cli_env, cwd=tmp_path)
    assert "added: feed 3 " in third.stdout, third.stdout  # SQLite without AUTOINCREMENT handed out 2 again
    db = Database(cli_env["NEWSWORKER_DATABASE_URL"])
    try:
        with db.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                identity = connection.execute(
                    text(
                        "SELECT table_name FROM information_schema.columns WHERE column_name IN ('id', 'seq') "
                        "AND is_identity = 'YES' ORDER BY table_name"
                    )
                ).scalars()
                assert {
                    "feeds",
                    "articles",
                    "entries",
                    "stories",
                    "fetch_log",
                    "reingest_runs",
                    "story_merges",
                    "event_outbox",
                } <= set(identity)
            else:
                tables = connection.execute(text("SELECT name FROM sqlite_sequence")).scalars()
                assert {"feeds", "articles", "entries", "stories", "fetch_log"} <= set(tables)
    finally:
        db.dispose()


# ------------------------------------------------------------------ settings


def test_settings_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    for name, value in (
        ("NEWSWORKER_HOST_OVERRIDES", "{bad"),
        ("NEWSWORKER_HOST_OVERRIDES", '{"a.example": {"concurrency": "x"}}'),
        ("NEWSWORKER_MAX_BODY_BYTES", "lots"),
    ):
        result = nw("config", env=_env(**{name: value}), cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        line = _one_line(result.stderr)
        assert line.startswith("error: invalid settings: " + name) and "Traceback" not in result.stderr


def test_unknown_variables_warn_with_the_closest_known_name(tmp_path: Path) -> None:
    result = nw("config", "--json", env=_env(NEWSWORKER_LOG_LEVLE="debug", NEWSWORKER_NONSENSE_XYZ="1"), cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout)["log_level"] == "INFO"
    warnings = result.stderr.strip().splitlines()
    assert any("NEWSWORKER_LOG_LEVLE" in w and "did you mean NEWSWORKER_LOG_LEVEL?" in w for w in warnings), warnings
    assert any("NEWSWORKER_NONSENSE_XYZ is not a newsworker setting" in w for w in warnings), warnings
    clean = nw("config", "--json", env=_env(NEWSWORKER_LOG_LEVEL="debug"), cwd=tmp_path)
    assert clean.stderr == ""


@pytest.mark.parametrize("command", ["beat", "worker"])
def test_beat_and_worker_report_an_unreachable_broker_and_keep_retrying(command: str, tmp_path: Path) -> None:
    port = free_port()
    env = _env(
        NEWSWORKER_DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}",
        NEWSWORKER_BROKER_URL=f"redis://:secret@127.0.0.1:{port}/0",
        NEWSWORKER_LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    _upgrade(env)
    args = ["beat", "--schedule", str(tmp_path / "schedule")] if command == "beat" else ["worker", "-c", "1"]
    log = tmp_path / "out.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "worker", *args],
            env=env,
            cwd=tmp_path,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    redis_process = None
    try:
        events = _wait_for_event(log, "cannot reach the broker", timeout=30)
        event = events[-1]
        assert event["level"] == "error" and "secret" not in json.dumps(event)
        assert event["broker"] == f"redis://:***@127.0.0.1:{port}/0" and "Connection refused" in event["error"]
        assert process.poll() is None  # still trying
        redis_process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                "secret",
            ],
            stdout=subprocess.DEVNULL,
        )
        _wait_for_event(log, "the broker answers after", timeout=30)
        failures = [e for e in _events(log) if e.get("event", "").startswith("cannot reach the broker")]
        assert len(failures) == 1  # one line for the cause, not one per attempt
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=30)


def _events(log: Path) -> list[dict[str, object]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def _wait_for_event(log: Path, prefix: str, timeout: float) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in _events(log) if str(e.get("event", "")).startswith(prefix)]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {prefix!r} event within {timeout:.0f}s:\n{log.read_text(errors='replace')[-3000:]}")


# ------------------------------------------------------------------ seeded database: read commands

FLOOD = (
    "The river Arno burst its banks in Florence on Monday after three days of rain. "
    "Mayor Dario Nardella ordered the evacuation of 2,000 residents from the Santa Croce district. "
    "Firefighters rescued 14 people from flooded cellars, the civil protection agency said."
)
ELECTION = (
    "Voters in Iceland elected a new parliament on Saturday, with the Independence Party of Bjarni "
    "Benediktsson winning 19 of 63 seats in Reykjavik's Althing. Turnout reached 81 percent, the "
    "electoral commission in Reykjavik said, and coalition talks begin on Tuesday."
)


def _seed(env: dict[str, str], tmp_path: Path) -> dict[str, int]:
    """Two unrelated stories through `newsworker import`; the flood story carries a syndicated copy."""
    rows = [
        {
            "url": "https://florence.example/arno",
            "title": "Arno floods Florence",
            "text": FLOOD,
            "published_at": "2024-05-01T08:00:00Z",
            "source": "florence-wire",
        },
        {
            "url": "https://mirror.example/arno-copy",
            "title": "Arno floods Florence",
            "text": FLOOD,
            "published_at": "2024-05-01T09:00:00Z",
            "source": "mirror",
        },
        {
            "url": "https://iceland.example/vote",
            "title": "Iceland elects a new parliament",
            "text": ELECTION,
            "published_at": "2024-05-02T08:00:00Z",
            "source": "nordic",
        },
    ]
    (tmp_path / "seed.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = cli("import", "seed.jsonl", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    articles = [json.loads(x) for x in cli("export", env=env, cwd=tmp_path).stdout.splitlines()]
    by_url = {a["url"]: a for a in articles}
    flood, copy, vote = (by_url[r["url"]] for r in rows)
    assert copy["duplicate_of"] == flood["id"] and copy["story_id"] == flood["story_id"]
    assert vote["story_id"] != flood["story_id"]
    return {
        "flood": flood["id"],
        "copy": copy["id"],
        "vote": vote["id"],
        "flood_story": flood["story_id"],
        "vote_story": vote["story_id"],
    }


def test_every_read_command_has_json(cli_env: dict[str, str], tmp_path: Path) -> None:
    ids = _seed(cli_env, tmp_path)
    assert cli("feeds", "add", "https://news.example.org/rss", env=cli_env, cwd=tmp_path).returncode == 0
    commands = [
        ["config"],
        ["db", "current"],
        ["feeds", "list"],
        ["feeds", "show", "1"],
        ["articles", "list"],
        ["articles", "show", str(ids["flood"])],
        ["stories", "list"],
        ["stories", "show", str(ids["flood_story"])],
        ["stats"],
        ["reingest", "status"],
    ]
    for command in commands:
        result = cli(*command, "--json", env=cli_env, cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr)
        lines = result.stdout.strip().splitlines()
        assert lines or command == ["reingest", "status"], command
        if command[0] == "config":
            json.loads(result.stdout)  # one indented object
        else:
            for line in lines:
                json.loads(line)
    current = json.loads(cli("db", "current", "--json", env=cli_env, cwd=tmp_path).stdout)
    assert current["up_to_date"] is True and current["database"] == current["code"]


def test_counts_agree_between_stories_list_and_show(cli_env: dict[str, str], tmp_path: Path) -> None:
    ids = _seed(cli_env, tmp_path)
    listed = {
        s["id"]: s
        for s in map(json.loads, cli("stories", "list", "--json", env=cli_env, cwd=tmp_path).stdout.splitlines())
    }
    for story_id in (ids["flood_story"], ids["vote_story"]):
        shown = json.loads(cli("stories", "show", str(story_id), "--json", env=cli_env, cwd=tmp_path).stdout)
        sources = {s for a in shown["articles"] for s in a["sources"]}
        assert listed[story_id]["article_count"] == shown["story"]["article_count"] == len(shown["articles"])
        assert listed[story_id]["source_count"] == shown["story"]["source_count"] == len(sources)
    assert listed[ids["flood_story"]]["article_count"] == 2  # the syndicated copy counts, as `show` lists it
    assert listed[ids["flood_story"]]["source_count"] == 2
    big = cli("stories", "list", "--min-articles", "2", "--json", env=cli_env, cwd=tmp_path).stdout.splitlines()
    assert [json.loads(x)["id"] for x in big] == [ids["flood_story"]]


def _merge(env: dict[str, str], old: int, new: int) -> None:
    """What the refinement pass does when it empties a story: its articles move, the story points on."""
    db = Database(env["NEWSWORKER_DATABASE_URL"])
    try:
        with db.transaction() as session:
            session.execute(update(Article).where(Article.story_id == old).values(story_id=new))
            session.execute(update(Story).where(Story.id == old).values(merged_into=new, article_count=0))
    finally:
        db.dispose()


def test_export_and_articles_list_follow_a_merged_story(cli_env: dict[str, str], tmp_path: Path) -> None:
    ids = _seed(cli_env, tmp_path)
    _merge(cli_env, ids["vote_story"], ids["flood_story"])
    old = str(ids["vote_story"])
    shown = json.loads(cli("stories", "show", old, "--json", env=cli_env, cwd=tmp_path).stdout)
    exported = cli("export", "--story", old, env=cli_env, cwd=tmp_path)
    assert exported.returncode == 0
    rows = [json.loads(x) for x in exported.stdout.splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(a["id"] for a in shown["articles"]) and len(rows) == 3
    assert f"story {old} was merged into story {ids['flood_story']}" in exported.stderr
    listed = [
        json.loads(x)
        for x in cli("articles", "list", "--story", old, "--json", env=cli_env, cwd=tmp_path).stdout.splitlines()
    ]
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in rows)
    missing = cli("export", "--story", "999", env=cli_env, cwd=tmp_path)
    assert missing.returncode == 2 and "no story with id 999" in missing.stderr


def test_articles_list_takes_the_export_filters(cli_env: dict[str, str], tmp_path: Path) -> None:
    ids = _seed(cli_env, tmp_path)

    def listed(*args: str) -> list[int]:
        result = cli("articles", "list", *args, "--json", env=cli_env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return [json.loads(x)["id"] for x in result.stdout.splitlines()]

    def exported(*args: str) -> list[int]:
        return [json.loads(x)["id"] for x in cli("export", *args, env=cli_env, cwd=tmp_path).stdout.splitlines()]

    assert listed() == sorted([ids["flood"], ids["copy"], ids["vote"]], reverse=True)  # newest first
    for selector in (
        ["--since", "2024-05-02"],
        ["--until", "2024-05-01T08:30:00Z"],
        ["--story", str(ids["flood_story"])],
    ):
        assert sorted(listed(*selector)) == exported(*selector), selector
    assert listed("--limit", "1") == [ids["vote"]]
    table = cli("articles", "list", env=cli_env, cwd=tmp_path)
    assert table.returncode == 0 and "Iceland elects a new parliament" in table.stdout
    assert "3 of 3 matching article(s)" in table.stdout
    unknown = cli("articles", "list", "--feed", "https://nowhere.example/rss", env=cli_env, cwd=tmp_path)
    assert unknown.returncode == 2 and "no feed" in unknown.stderr


def test_reingest_status_counts_cancelled_articles_apart(cli_env: dict[str, str], tmp_path: Path) -> None:
    ids = _seed(cli_env, tmp_path)
    db = Database(cli_env["NEWSWORKER_DATABASE_URL"])
    try:
        with db.transaction() as session:
            run = ReingestRun(selection={"all": True}, mode="inline", status="interrupted", total=3, enqueued=3)
            session.add(run)
            session.flush()
            run_id = run.id
            session.add_all(
                [
                    ReingestItem(run_id=run_id, article_id=ids["flood"], state="done", outcome="unchanged"),
                    ReingestItem(run_id=run_id, article_id=ids["copy"], state="cancelled"),
                    ReingestItem(run_id=run_id, article_id=ids["vote"], state="cancelled"),
                ]
            )
    finally:
        db.dispose()
    one = cli("reingest", "status", str(run_id), env=cli_env, cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    assert "interrupted, 1/3 re-ingested (33%)" in one.stdout and "cancelled 2" in one.stdout
    assert f"newsworker reingest resume {run_id}" in one.stdout
    recent = cli("reingest", "status", env=cli_env, cwd=tmp_path)
    row = next(line for line in recent.stdout.splitlines() if re.match(rf"\W*{run_id}\b", line))
    assert "1/3" in row and "3/3" not in row


def test_output_is_not_wrapped_when_piped(tmp_path: Path) -> None:
    env = _env(NEWSWORKER_DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}")
    _upgrade(env)
    long_url = "https://news.example.org/" + "/".join(f"section-{i}" for i in range(12)) + "/feed.xml"
    title = "A very long feed title that would never fit on an eighty-column terminal line at all"
    added = nw("feeds", "add", long_url, "--title", title, env=env, cwd=tmp_path)
    assert _one_line(added.stdout) == f"added: feed 1 {long_url}"
    table = nw("feeds", "list", env=env, cwd=tmp_path)
    assert any(long_url in line and title in line for line in table.stdout.splitlines()), table.stdout
    bad = nw("config", env=_env(NEWSWORKER_HOST_OVERRIDES='{"feeds.example.com": {"concurrency": 4,, }}'), cwd=tmp_path)
    line = _one_line(bad.stderr)
    assert "Expecting property name enclosed in double quotes: line 1 column" in line and line.endswith(
        "list the settings"
    )


# ------------------------------------------------------------------ stories refine


def test_stories_refine_prints_what_moved(tmp_path: Path) -> None:
    from tests.integration import test_story_refine as refine_support
    from worker.service.messages import LocalDispatcher
    from worker.service.runtime import Runtime
    from worker.settings import load_settings

    url = f"sqlite:///{tmp_path / 'r.db'}"
    env = _env(NEWSWORKER_DATABASE_URL=url)
    _upgrade(env)
    docs, background = refine_support._docs()
    rt = Runtime.build(load_settings(database_url=url), LocalDispatcher())
    try:
        refine_support._ingest(rt, docs, background)
    finally:
        rt.close()
    result = cli("stories", "refine", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    moved_lines = [ln for ln in result.stdout.splitlines() if re.match(r"^stories [\d, ]+: \d+ article\(s\) moved", ln)]
    assert moved_lines, result.stdout
    assert all("articles now:" in ln for ln in moved_lines)
    total = int(re.search(r"articles moved: (\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert total > 0 and total == sum(int(re.search(r": (\d+) article\(s\) moved", ln).group(1)) for ln in moved_lines)  # type: ignore[union-attr]
    again = json.loads(cli("stories", "refine", "--json", env=env, cwd=tmp_path).stdout)
    assert again["changes"] == [] and again["articles_moved"] == 0


def test_feeds_export_keeps_every_tag(cli_env: dict[str, str], tmp_path: Path) -> None:
    url = "https://news.example.org/world.xml"
    assert cli("feeds", "add", url, "--tag", "world", "--tag", "daily", "--tag", "en", env=cli_env).returncode == 0
    exported = cli("feeds", "export", "-o", "feeds.opml", env=cli_env)
    assert exported.returncode == 0, exported.stderr
    fresh = {"NEWSWORKER_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    _upgrade(fresh)
    assert cli("feeds", "import", "feeds.opml", env=fresh).returncode == 0
    (row,) = [json.loads(x) for x in cli("feeds", "list", "--json", env=fresh).stdout.splitlines()]
    assert row["url"] == url and row["tags"] == ["world", "daily", "en"]


def test_a_gone_feed_fails_the_run_and_says_how_to_retry_it(tmp_path: Path) -> None:
    with LocalHTTPServer() as server:
        server.route("/gone.xml", Reply(410))
        env = _env(NEWSWORKER_DATABASE_URL=f"sqlite:///{tmp_path / 'g.db'}", NEWSWORKER_ALLOWED_NETWORKS=LOOPBACK)
        _upgrade(env)
        assert cli("feeds", "add", server.url("/gone.xml"), env=env).returncode == 0
        result = nw("run", "--once", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr  # a feed failed
    assert "errors: 1" in result.stdout
    assert re.search(
        r"^feed 1 \S+/gone\.xml: gone \(.*\): not polled again; `newsworker feeds reset 1`", result.stdout, re.M
    )
