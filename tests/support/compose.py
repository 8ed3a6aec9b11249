"""Read docker-compose.yml the way the tests need it: services, commands, environments.

Docker does not run on the test machines, so the end-to-end tests start the
same commands compose would, as plain processes, with the same environment
(minus the addresses of the compose network, which the tests replace).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def load(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a mapping")
    return data


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${…} substitution (enough of it for these files); ``$$`` stays a literal ``$``."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = env.get(name)
        if op in (":-", "-"):
            use_default = current is None or (op == ":-" and current == "")
            return arg if use_default else str(current)
        if op in (":?", "?"):
            missing = current is None or (op == ":?" and current == "")
            if missing:
                raise KeyError(f"{name}: {arg}")
            return str(current)
        return "" if current is None else str(current)

    return _VARIABLE.sub(replace, value.replace("$$", "\x00")).replace("\x00", "$")


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """The uncommented ``NAME=value`` lines of an env file."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        name, _, value = stripped.partition("=")
        values[name.strip()] = value.strip()
    return values


def documented_variables(path: Path = ENV_EXAMPLE) -> set[str]:
    """Every ``NAME=`` in the file, commented out or not."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", path.read_text(encoding="utf-8"), flags=re.MULTILINE))


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    environment: dict[str, str]
    raw: dict[str, Any]


def service(data: dict[str, Any], name: str, env: dict[str, str] | None = None) -> Service:
    """One service with its command as a list and its environment interpolated from ``env``."""
    raw = data["services"][name]
    values = env if env is not None else read_env_file()
    command = raw.get("command", [])
    if isinstance(command, str):
        command = command.split()
    environment = raw.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return Service(
        name=name,
        command=[interpolate(str(part), values) for part in command],
        environment={str(k): interpolate(str(v), values) for k, v in environment.items()},
        raw=raw,
    )


# Variables that name hosts of the compose network; a test run replaces them.
NETWORK_VARIABLES = ("NEWSWORKER_DATABASE_URL", "NEWSWORKER_BROKER_URL", "NEWSWORKER_REDIS_URL")


def process_env(svc: Service, **overrides: str) -> dict[str, str]:
    """The environment compose gives ``svc``, for a plain process: network addresses replaced by ``overrides``."""
    from tests.support.processes import service_env

    env = {k: v for k, v in svc.environment.items() if k not in NETWORK_VARIABLES}
    env.update(overrides)
    return service_env(**env)


def newsworker_args(svc: Service) -> list[str]:
    """The service's ``newsworker …`` command without the program name (for ``python -m worker``)."""
    if not svc.command or svc.command[0] != "newsworker":
        raise ValueError(f"{svc.name} does not run newsworker: {svc.command}")
    return svc.command[1:]


def healthcheck_argv(svc: Service, executable: str) -> list[str]:
    """The service's health check as a local command: ``celery``/``python`` run by ``executable``."""
    test = svc.raw["healthcheck"]["test"]
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    kind, rest = test[0], [str(part).replace("$$", "$") for part in test[1:]]
    if kind == "CMD":
        head = {"python": [executable], "celery": [executable, "-m", "celery"]}.get(rest[0])
        if head is None:
            raise ValueError(f"unexpected health check {test}")
        return [*head, *rest[1:]]
    if kind != "CMD-SHELL":
        raise ValueError(f"unexpected health check {test}")
    script = re.sub(r"^celery ", f"{executable} -m celery ", rest[0])
    script = re.sub(r"^python ", f"{executable} ", script)
    return ["sh", "-c", script]
