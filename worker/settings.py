"""The one typed settings object, read from ``NEWSWORKER_*`` variables at start-up.

Nothing here connects to anything: settings are read when a command or a worker
starts (``get_settings()``), validated, and passed down. ``newsworker config``
prints them with secrets masked.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

DEFAULT_USER_AGENT = "newsworker/0.1 (+https://github.com/newsworker/newsworker)"


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the variable and what is wrong."""


class Settings(BaseSettings):
    """Every knob of newsworker. Each field is ``NEWSWORKER_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="NEWSWORKER_", extra="ignore", frozen=True, validate_default=True)

    database_url: str = Field(
        default="sqlite:///newsworker.db",
        description="SQLAlchemy URL of the database (SQLite file by default; postgresql+psycopg://… in production).",
    )
    broker_url: str | None = Field(
        default=None,
        description="Celery broker (redis://…). Unset: tasks run in-process (embedded mode).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for per-host limits and locks. Defaults to the broker URL when that is Redis.",
    )
    allow_private_networks: bool = Field(
        default=False,
        description="Allow fetching loopback/private/link-local addresses (tests and intranet feeds only).",
    )
    user_agent: str = Field(default=DEFAULT_USER_AGENT, description="User-Agent sent with every request.")
    max_body_bytes: int = Field(
        default=15 * 1024 * 1024,
        gt=0,
        description="Largest response body accepted, counted after decompression.",
    )
    import_max_line_bytes: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        description="Largest line `newsworker import` reads; longer lines are reported and skipped.",
    )
    fetch_deadline_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Wall-clock limit for one whole response, redirects included.",
    )
    connect_timeout_seconds: float = Field(default=10.0, gt=0, description="TCP/TLS connect timeout.")
    read_timeout_seconds: float = Field(default=20.0, gt=0, description="Timeout between two reads.")
    poll_min_interval_seconds: int = Field(
        default=300, ge=60, description="Shortest interval between two polls of one feed."
    )
    poll_max_interval_seconds: int = Field(
        default=86400, ge=60, description="Longest interval between two polls of one feed."
    )
    error_backoff_max_seconds: int = Field(
        default=86400,
        ge=60,
        description="Cap of the exponential back-off after errors (feeds are never disabled).",
    )
    failing_after_seconds: int = Field(
        default=86400, ge=0, description="A feed failing for longer than this is marked 'failing'."
    )
    allowed_networks: str = Field(
        default="",
        description=(
            "Comma-separated CIDRs fetched even though they are not public (an intranet feed server), "
            "e.g. 10.1.2.0/24,fd00:1::/64; everything else private stays refused."
        ),
    )
    ca_bundle: str | None = Field(
        default=None,
        description="PEM file of extra trusted CAs for https (intranet feeds); unset: the system store.",
    )
    dns_cache_seconds: float = Field(
        default=60.0, ge=0, description="How long a resolved and checked address is reused; 0 resolves every time."
    )
    redis_key_prefix: str = Field(
        default="newsworker:",
        min_length=1,
        description="Prefix of every Redis key newsworker writes (host limits, beat lock).",
    )
    beat_lock_seconds: int = Field(
        default=60,
        ge=2,
        description="Single-beat lock lifetime: a standby beat takes over this long after the active one died.",
    )
    host_max_concurrency: int = Field(
        default=2, ge=1, description="Concurrent requests per host, shared by all workers."
    )
    host_requests_per_minute: int = Field(
        default=60, ge=1, description="Requests per minute per host, shared by all workers."
    )
    # NoDecode: the validator below parses the JSON, so a typo is a one-line settings error, not a traceback.
    host_overrides: Annotated[dict[str, dict[str, int]], NoDecode] = Field(
        default_factory=dict,
        description='Per-host limits as JSON, e.g. {"feeds.example.com": {"concurrency": 4, "per_minute": 120}}.',
    )
    dispatch_interval_seconds: float = Field(
        default=10.0, gt=0, description="How often beat looks for due feeds and sweeps lost work."
    )
    fetch_concurrency: int = Field(
        default=16, ge=1, le=512, description="Embedded `run`: feeds and pages fetched at once (one writer stores)."
    )
    normalise_processes: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = Field(
        default="auto",
        description="Embedded `run`: processes that normalise pages (0: in the fetch threads; auto: one "
        "where this process may use two CPUs or more, so the writer keeps a core of its own).",
    )
    cache_dir: str = Field(
        default="",
        description="Where the language model's decompressed copy is kept (empty: $XDG_CACHE_HOME/newsworker,"
        " else ~/.cache/newsworker; off: not kept). Read by worker.normalise.language.",
    )
    dispatch_batch_size: int = Field(default=500, ge=1, description="Most feeds enqueued per dispatch.")
    story_refine_interval_seconds: float = Field(
        default=300.0, gt=0, description="How often beat runs the story refinement pass."
    )
    story_refine_batch_size: int = Field(
        default=2000, ge=1, description="Most changed stories one refinement pass starts from."
    )
    import_refine_every: int = Field(
        default=100,
        ge=0,
        description="`newsworker import` runs a story refinement pass after this many new articles, as"
        " beat does while a live stream arrives (0: none; `stories refine` after the import either way).",
    )
    # ---- events (issue #17): the outbox, its Redis Stream and the optional webhook
    events_stream: str = Field(
        default="newsworker:events", min_length=1, description="Redis Stream the event relay publishes to."
    )
    events_maxlen: int = Field(
        default=100_000, ge=100, description="Approximate cap of the events stream (XADD MAXLEN ~)."
    )
    events_retention_seconds: float = Field(
        default=86400.0,
        ge=0,
        description="Published events stay in the database outbox this long, then are pruned.",
    )
    events_relay_interval_seconds: float = Field(default=2.0, gt=0, description="How often beat runs the event relay.")
    events_batch_size: int = Field(default=500, ge=1, description="Events one relay transaction publishes.")
    webhook_url: str | None = Field(
        default=None, description="Events are POSTed here as signed JSON (unset: no webhook)."
    )
    webhook_secret: str | None = Field(
        default=None, description="HMAC-SHA256 key of the X-Newsworker-Signature header of webhook POSTs."
    )
    webhook_max_attempts: int = Field(
        default=10,
        ge=1,
        description="Deliveries of one event tried before it is given up (logged, kept in the outbox).",
    )
    task_soft_time_limit_seconds: int = Field(
        default=60, ge=1, description="Soft time limit of one pipeline task (raises inside the task)."
    )
    task_time_limit_seconds: int = Field(
        default=75,
        ge=1,
        description=(
            "Hard time limit of one pipeline task (the child process is killed). Work in flight is leased"
            " for this plus 15 s at most; a running Celery task holds a third of that (at least 10 s),"
            " renewed by a heartbeat: a killed worker's work is sent again when that runs out."
        ),
    )
    visibility_timeout_seconds: int = Field(
        default=7200,
        ge=60,
        description="Redis visibility timeout; must exceed every countdown and retry back-off.",
    )
    worker_concurrency: int = Field(default=8, ge=1, description="Prefork processes per worker.")
    worker_max_memory_mb: int = Field(
        default=1024,
        ge=64,
        description="A pool process whose resident memory passes this is replaced after its task "
        "(one pathological page must not keep a child at its peak for its remaining tasks).",
    )
    task_events: bool = Field(
        default=False,
        description="Workers publish Celery task events from start-up (monitoring that cannot "
        "turn them on itself). Flower turns them on at its start and every minute, so it does "
        "not need this; off, a worker does not spend 5-10% of its CPU on events nobody reads.",
    )
    worker_soft_shutdown_seconds: float = Field(
        default=25.0,
        ge=0,
        description="On SIGTERM, how long running tasks may finish before they are handed back to the queue.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    log_format: Literal["auto", "console", "json"] = Field(
        default="auto",
        description="console (for people) or json (one event a line); auto: console on a terminal, else json.",
    )
    metrics_port: int | None = Field(default=None, description="Port of the Prometheus metrics endpoint (unset: off).")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_alias(cls, value: Any) -> Any:
        # "text" was the console format's first name; it still works.
        if isinstance(value, str):
            value = value.strip().lower()
            return "console" if value == "text" else value
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if not scheme.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if scheme in ("postgresql", "postgres"):
            # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            value = "postgresql+psycopg" + value[len(scheme) :]
        return value

    @field_validator("broker_url", "redis_url", "webhook_url", "webhook_secret", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("broker_url")
    @classmethod
    def _check_broker(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss"):
            raise ValueError("only redis:// or rediss:// brokers are supported")
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _check_networks(cls, value: str) -> str:
        networks = []
        for part in value.split(","):
            if part.strip():
                try:
                    networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
                except ValueError as exc:
                    raise ValueError(f"not a network in CIDR notation: {part.strip()!r} ({exc})") from None
        return ",".join(networks)

    @field_validator("ca_bundle", mode="before")
    @classmethod
    def _check_ca_bundle(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not Path(value).is_file():
                raise ValueError(f"no such file: {value}")
        return value

    @field_validator("host_overrides", mode="before")
    @classmethod
    def _parse_overrides(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return {}
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc})") from None
        return value

    @property
    def embedded(self) -> bool:
        """No broker: tasks run in-process."""
        return self.broker_url is None

    @property
    def effective_redis_url(self) -> str | None:
        return self.redis_url or self.broker_url

    @property
    def allowed_network_list(self) -> tuple[str, ...]:
        """``allowed_networks`` as the CIDR tuple the fetch policy takes."""
        return tuple(n for n in self.allowed_networks.split(",") if n)

    def masked(self) -> dict[str, Any]:
        """Settings as a dict with passwords in URLs replaced by ``***``."""
        data = self.model_dump()
        for key in ("database_url", "broker_url", "redis_url", "webhook_url"):
            if data.get(key):
                data[key] = mask_url(data[key])
        if data.get("webhook_secret"):
            data["webhook_secret"] = "***"
        return data


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_settings(**overrides: Any) -> Settings:
    """Read and validate settings; raise :class:`SettingsError` naming the bad variable, in one line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [str(p) for p in error["loc"]]
            name = "NEWSWORKER_" + (loc[0].upper() if loc else "?")
            where = f" (at {'.'.join(loc[1:])})" if len(loc) > 1 else ""
            problems.append(f"{name}{where}: {_one_line(str(error['msg']))}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
    except SourceError as exc:  # a value the environment source itself could not read
        raise SettingsError(f"invalid settings: {_one_line(str(exc))}") from None


# NEWSWORKER_* variables that are not settings of the application (the test suite's own).
NOT_SETTINGS = frozenset({"NEWSWORKER_TEST_PG", "NEWSWORKER_SHARED_DATA"})


def setting_names() -> list[str]:
    """Every ``NEWSWORKER_*`` variable newsworker reads."""
    return ["NEWSWORKER_" + name.upper() for name in Settings.model_fields]


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per ``NEWSWORKER_*`` variable that is not a setting, naming the closest known one.

    Settings are read case-insensitively, so case alone never makes a name unknown."""
    env = os.environ if environ is None else environ
    known = setting_names()
    known_upper = set(known) | NOT_SETTINGS
    warnings = []
    for name in sorted(env):
        upper = name.upper()
        if not upper.startswith("NEWSWORKER_") or upper in known_upper:
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else "; `newsworker config` lists the settings"
        warnings.append(f"{name} is not a newsworker setting and is ignored{hint}")
    return warnings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once at start-up."""
    return load_settings()
