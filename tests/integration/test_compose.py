"""docker-compose.yml, .env.example and the Dockerfile, checked without a Docker engine.

The commands and health checks are run with ``--help`` through this checkout's
code, every variable is matched against the settings, and where a compose client
is installed (``docker compose`` plugin or the ``docker-compose`` package from
Debian) it validates the file itself.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import compose
from tests.support.processes import service_env
from worker.settings import Settings, get_settings, load_settings

REPO = compose.REPO
APP_SERVICES = ("migrate", "worker", "beat", "flower")
LONG_RUNNING = ("redis", "postgres", "worker", "beat", "flower")


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return compose.load()


def setting_names() -> set[str]:
    return {f"NEWSWORKER_{name.upper()}" for name in Settings.model_fields}


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", value)
    assert match and value, f"unsupported duration {value!r}"
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


# ------------------------------------------------------------------ structure


def test_services_roles_and_redis_durability(data: dict[str, Any]) -> None:
    services = data["services"]
    assert {"redis", "postgres", "migrate", "worker", "beat", "flower"} <= set(services)
    redis = compose.service(data, "redis")
    command = redis.command
    # Append-only persistence, no eviction, a password, and not published to the host.
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert command[command.index("--requirepass") + 1] == compose.read_env_file()["REDIS_PASSWORD"]
    assert "ports" not in services["redis"]
    assert any(str(v).endswith(":/data") for v in services["redis"]["volumes"])
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    # Flower is optional and only on the loopback interface.
    assert services["flower"]["profiles"] == ["flower"]
    assert all(str(p).startswith("127.0.0.1:") for p in services["flower"]["ports"])
    for name in ("postgres", "migrate", "worker", "beat"):
        assert "ports" not in services[name], f"{name} must not be published"
    # Every app role runs the one image.
    assert {services[name]["image"] for name in APP_SERVICES} == {"newsworker:latest"}
    assert all(services[name]["build"] == "." for name in APP_SERVICES)


def test_health_checks_restart_policies_and_start_order(data: dict[str, Any]) -> None:
    services = data["services"]
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check.get("test"), f"{name} has no health check"
        assert services[name]["restart"] in ("unless-stopped", "always"), name
    # The one-shot migration must not be restarted after it succeeded.
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "beat"):
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully", name
        assert needs["redis"]["condition"] == "service_healthy", name
        assert needs["postgres"]["condition"] == "service_healthy", name
    assert services["flower"]["depends_on"]["redis"]["condition"] == "service_healthy"
    # The worker is scalable: nothing pins one container (fixed name or host port).
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    # Workers are checked through the broker, like `celery inspect ping`.
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])


def test_graceful_shutdown_is_configured(data: dict[str, Any]) -> None:
    worker = compose.service(data, "worker")
    # SIGTERM must start Celery's soft shutdown, and Docker must wait longer than it before SIGKILL.
    assert worker.environment.get("REMAP_SIGTERM") == "SIGQUIT"
    soft = Settings.model_fields["worker_soft_shutdown_seconds"].default
    assert _seconds(worker.raw["stop_grace_period"]) >= soft + 15
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^\s+REMAP_SIGTERM=SIGQUIT", dockerfile, flags=re.MULTILINE)
    import celeryconfig

    assert celeryconfig.worker_soft_shutdown_timeout == load_settings().worker_soft_shutdown_seconds
    assert celeryconfig.task_acks_late and celeryconfig.task_reject_on_worker_lost


def test_pool_children_are_bounded_in_tasks_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import celeryconfig

    monkeypatch.setenv("NEWSWORKER_WORKER_MAX_MEMORY_MB", "300")
    get_settings.cache_clear()
    try:
        config = importlib.reload(celeryconfig)
        assert config.worker_max_memory_per_child == 300 * 1024  # Celery counts KiB
        assert config.worker_max_tasks_per_child > 0
    finally:
        monkeypatch.delenv("NEWSWORKER_WORKER_MAX_MEMORY_MB")
        get_settings.cache_clear()
        importlib.reload(celeryconfig)


# ------------------------------------------------------------------ variables


def test_every_variable_is_a_known_setting_and_every_setting_is_documented(data: dict[str, Any]) -> None:
    known = setting_names()
    used: dict[str, str] = {}
    for name in data["services"]:
        for key in compose.service(data, name).environment:
            if key.startswith("NEWSWORKER_"):
                used[key] = name
    assert used, "compose sets no NEWSWORKER_* variable"
    unknown = {k: v for k, v in used.items() if k not in known}
    assert not unknown, f"compose sets unknown settings: {unknown}"
    documented = compose.documented_variables()
    assert {v for v in documented if v.startswith("NEWSWORKER_")} <= known, documented - known
    missing = known - documented
    assert not missing, f".env.example does not document {sorted(missing)}"
    # Every password/secret the compose file requires is in the example.
    required = set(re.findall(r"\$\{([A-Z_]+):\?", compose.COMPOSE_FILE.read_text()))
    assert required <= set(compose.read_env_file()), required - set(compose.read_env_file())


@pytest.mark.parametrize("name", ["migrate", "worker", "beat", "flower"])
def test_app_environment_is_valid_settings(data: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = compose.service(data, name).environment
    for key, value in {**compose.read_env_file(), **env}.items():
        if key.startswith("NEWSWORKER_"):
            monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.broker_url is not None and settings.broker_url.startswith("redis://")
    assert settings.database_url.startswith("postgresql+psycopg://")
    if name == "worker":
        assert settings.metrics_port is not None


# ------------------------------------------------------------------ entry points


def _runnable(argv: list[str]) -> list[str]:
    """Run a container command through this checkout: newsworker / celery / python → this interpreter."""
    head, rest = argv[0], argv[1:]
    if head == "newsworker":
        return [sys.executable, "-m", "worker", *rest]
    if head == "celery":
        return [sys.executable, "-m", "celery", *rest]
    if head == "python":
        return [sys.executable, *rest]
    raise AssertionError(f"command {argv!r} does not start with newsworker, celery or python")


def _health_argv(test: list[str] | str) -> list[str]:
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    kind, rest = test[0], list(test[1:])
    if kind == "CMD":
        return rest
    assert kind == "CMD-SHELL", test
    words = shlex.split(rest[0].split("|")[0].split(">")[0])
    return [w.replace("$$HOSTNAME", "celery@test").replace("$HOSTNAME", "test") for w in words]


def _app_commands(data: dict[str, Any]) -> list[tuple[str, list[str]]]:
    commands = []
    for name in APP_SERVICES:
        svc = compose.service(data, name)
        commands.append((f"{name} command", svc.command))
        check = svc.raw.get("healthcheck", {}).get("test")
        if check:
            commands.append((f"{name} healthcheck", _health_argv(check)))
    return commands


def _help(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if argv[:2] == ["python", "-c"]:
        # An inline health probe: compile it, do not run it.
        return subprocess.run(
            [sys.executable, "-c", f"compile({argv[2]!r}, 'probe', 'exec')"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    return subprocess.run(
        [*_runnable(argv), "--help"],
        env=service_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_command_and_health_check_is_a_real_entry_point(data: dict[str, Any], tmp_path: Path) -> None:
    commands = _app_commands(data)
    assert len(commands) >= 7
    for label, argv in commands:
        result = _help(argv, tmp_path)
        assert result.returncode == 0, f"{label}: {argv}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        if argv[:2] != ["python", "-c"]:
            assert "usage" in (result.stdout + result.stderr).lower(), label


def test_the_entry_point_check_catches_a_wrong_command(tmp_path: Path) -> None:
    assert _help(["newsworker", "no-such-command"], tmp_path).returncode != 0
    assert _help(["celery", "-A", "tasks", "no-such-command"], tmp_path).returncode != 0
    assert _help(["python", "-m", "worker.no_such_module"], tmp_path).returncode != 0


# ------------------------------------------------------------------ Dockerfile


def test_dockerfile_builds_one_slim_non_root_image_from_the_package() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    bases = re.findall(r"^ARG PYTHON_IMAGE=(\S+)", dockerfile, flags=re.MULTILINE)
    assert bases and "slim" in bases[0]
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied: list[str] = []
    for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, flags=re.MULTILINE):
        copied += [p for p in line.split()[:-1] if not p.startswith("$")]
    for path in copied:
        assert (REPO / path).exists(), f"COPY {path}: no such file"
        assert path.rstrip("/") in allowed, f"COPY {path}: excluded by .dockerignore"
    # Every package pyproject installs is copied into the build.
    import tomllib

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    modules = set(pyproject["tool"]["setuptools"].get("py-modules", []))
    assert packages | {f"{m}.py" for m in modules} <= {p.rstrip("/") for p in copied}
    assert "flower" in pyproject["project"]["optional-dependencies"]
    # flower ships in the image: the lock it installs carries the extra (tests/test_lock.py checks both)
    assert "pip install --no-deps --require-hashes -r requirements.lock" in dockerfile


# ------------------------------------------------------------------ compose client


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_client_accepts_the_file(tmp_path: Path) -> None:
    client = _compose_client()
    if client is None:
        pytest.skip(
            "no compose client: the docker CLI here has no compose plugin and docker-compose is not installed "
            "(apt-get install --no-install-recommends docker-compose)"
        )
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(REPO / name, tmp_path / name)
    # Without .env the required passwords are missing: the client must refuse.
    (tmp_path / ".env").write_text("")
    refused = subprocess.run([*client, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "PASSWORD" in refused.stderr, refused.stderr
    # The header says only the two passwords are needed: with just those the file validates,
    # with the flower profile too (Flower itself refuses to start without FLOWER_BASIC_AUTH).
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=0a1b\nREDIS_PASSWORD=2c3d\n")
    for extra in ([], ["--profile", "flower"]):
        result = subprocess.run(
            [*client, *extra, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    for extra in ([], ["--profile", "flower"]):
        result = subprocess.run(
            [*client, *extra, "config", "-q"], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
    rendered = subprocess.run([*client, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert rendered.returncode == 0, rendered.stderr
    assert "noeviction" in rendered.stdout and "service_completed_successfully" in rendered.stdout


def test_only_the_two_passwords_are_required_and_comments_match_the_code() -> None:
    text = compose.COMPOSE_FILE.read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    assert required == {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}, required
    # A second beat stands by behind the Redis lock (worker/beatlock.py): the comment must say so.
    assert "every trigger twice" not in text
    beat_comment = text[: text.index("\n  beat:")].rsplit("\n\n", 1)[-1]
    assert "stands" in beat_comment and "by" in beat_comment and "NEWSWORKER_BEAT_LOCK_SECONDS" in beat_comment
    assert "NEWSWORKER_BEAT_LOCK_SECONDS" in setting_names()


def test_flower_refuses_to_start_without_basic_auth(tmp_path: Path) -> None:
    data = compose.load()
    flower = compose.service(data, "flower")
    assert flower.command[:2] == ["newsworker", "flower"]
    env = service_env(NEWSWORKER_BROKER_URL="redis://127.0.0.1:1/0")
    env.pop("FLOWER_BASIC_AUTH", None)
    result = subprocess.run(
        [*_runnable(flower.command)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "FLOWER_BASIC_AUTH" in result.stderr and len(result.stderr.strip().splitlines()) == 1
