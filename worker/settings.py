"""The one typed settings object, read from ``NEWSWORKER_*`` variables at start-up.

Nothing here connects to anything: settings are read when a command or a worker
starts (``get_settings()``), validated, and passed down. ``newsworker config``
prints them with secrets masked.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    host_max_concurrency: int = Field(
        default=2, ge=1, description="Concurrent requests per host, shared by all workers."
    )
    host_requests_per_minute: int = Field(
        default=60, ge=1, description="Requests per minute per host, shared by all workers."
    )
    host_overrides: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description='Per-host limits as JSON, e.g. {"feeds.example.com": {"concurrency": 4, "per_minute": 120}}.',
    )
    dispatch_interval_seconds: float = Field(default=30.0, gt=0, description="How often beat looks for due feeds.")
    dispatch_batch_size: int = Field(default=500, ge=1, description="Most feeds enqueued per dispatch.")
    task_soft_time_limit_seconds: int = Field(
        default=120, ge=1, description="Soft time limit of one task (raises inside the task)."
    )
    task_time_limit_seconds: int = Field(
        default=180, ge=1, description="Hard time limit of one task (the child process is killed)."
    )
    visibility_timeout_seconds: int = Field(
        default=7200,
        ge=60,
        description="Redis visibility timeout; must exceed every countdown and retry back-off.",
    )
    worker_concurrency: int = Field(default=8, ge=1, description="Prefork processes per worker.")
    worker_soft_shutdown_seconds: float = Field(
        default=25.0,
        ge=0,
        description="On SIGTERM, how long running tasks may finish before they are handed back to the queue.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="json for machines, text for terminals, auto picks by TTY."
    )
    metrics_port: int | None = Field(default=None, description="Port of the Prometheus metrics endpoint (unset: off).")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

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

    @field_validator("broker_url", "redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("broker_url")
    @classmethod
    def _check_broker(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss"):
            raise ValueError("only redis:// or rediss:// brokers are supported")
        return value

    @field_validator("host_overrides", mode="before")
    @classmethod
    def _parse_overrides(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @property
    def embedded(self) -> bool:
        """No broker: tasks run in-process."""
        return self.broker_url is None

    @property
    def effective_redis_url(self) -> str | None:
        return self.redis_url or self.broker_url

    def masked(self) -> dict[str, Any]:
        """Settings as a dict with passwords in URLs replaced by ``***``."""
        data = self.model_dump()
        for key in ("database_url", "broker_url", "redis_url"):
            if data.get(key):
                data[key] = mask_url(data[key])
        return data


def mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def load_settings(**overrides: Any) -> Settings:
    """Read and validate settings; raise :class:`SettingsError` naming the bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "NEWSWORKER_" + "_".join(str(p) for p in error["loc"]).upper()
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
    except json.JSONDecodeError as exc:
        raise SettingsError(f"NEWSWORKER_HOST_OVERRIDES: not valid JSON ({exc})") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process, read once at start-up."""
    return load_settings()
