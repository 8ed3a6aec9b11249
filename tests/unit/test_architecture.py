"""The layering rule, checked on the source: who may import whom.

- ``worker.model`` (value types, the clock, canonical addresses) imports nothing from the project;
- a stage package (``worker.http``, ``worker.poll``, ``worker.normalise``, ``worker.dedupe``,
  ``worker.stories``) imports only ``worker.model`` and itself: no other stage, no storage, no Celery,
  no ORM;
- ``storage`` imports only ``worker.model`` and itself;
- the service layer (``worker.service``) is the one place that combines stages and storage;
  the entry points (``tasks``, ``worker.cli``) sit on top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = ("worker", "storage", "tasks", "celeryconfig")
STAGES = ("worker.http", "worker.poll", "worker.normalise", "worker.dedupe", "worker.stories")
INFRASTRUCTURE_LIBRARIES = ("celery", "kombu", "sqlalchemy", "alembic", "redis", "psycopg")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[str]:
    """Every module a file imports, resolved to absolute dotted names (TYPE_CHECKING ones too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _module_name(path).split(".")
                base = base[: len(base) - node.level + (1 if path.name == "__init__.py" else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append(module)
            # ``from worker import handlers`` imports worker.handlers
            found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def _sources(package: str) -> list[Path]:
    root = REPO.joinpath(*package.split("."))
    return sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]


def _within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _project_imports(path: Path) -> set[str]:
    return {m for m in _imports(path) if _within(m, *PROJECT)}


def _real_modules(names: set[str]) -> set[str]:
    """Drop ``pkg.name`` entries that are attributes, not modules (from pkg import name)."""
    real = set()
    for name in names:
        parts = name.split(".")
        file = REPO.joinpath(*parts)
        if file.with_suffix(".py").exists() or (file / "__init__.py").exists() or len(parts) == 1:
            real.add(name)
    return real


def _violations(package: str, allowed: tuple[str, ...], forbidden_libraries: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path in _sources(package):
        imported = _imports(path)
        for module in sorted(_real_modules(_project_imports(path))):
            if module in ("worker",):  # the namespace itself carries nothing
                continue
            if not _within(module, *allowed):
                bad.append(f"{path.relative_to(REPO)} imports {module}")
        for module in imported:
            if _within(module, *forbidden_libraries):
                bad.append(f"{path.relative_to(REPO)} imports {module}")
    return bad


def test_the_model_layer_imports_nothing_from_the_project() -> None:
    assert _violations("worker.model", ("worker.model",), INFRASTRUCTURE_LIBRARIES) == []


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_only_the_model_and_itself(stage: str) -> None:
    assert _violations(stage, ("worker.model", stage), INFRASTRUCTURE_LIBRARIES) == []


def test_storage_imports_only_the_model_and_itself() -> None:
    assert _violations("storage", ("worker.model", "storage")) == []


def test_only_the_service_layer_and_entry_points_combine_stages_and_storage() -> None:
    combining = []
    for path in sorted((REPO / "worker").rglob("*.py")) + sorted((REPO / "tasks").rglob("*.py")):
        modules = _real_modules(_project_imports(path))
        uses_storage = any(_within(m, "storage") for m in modules)
        uses_stage = any(_within(m, *STAGES) for m in modules)
        if uses_storage and uses_stage:
            combining.append(_module_name(path))
    assert combining, "the rule found no combining module at all: the check itself is broken"
    assert [m for m in combining if not _within(m, "worker.service", "worker.cli", "tasks")] == []


def test_the_checker_sees_a_violation() -> None:
    """The rule is not vacuous: a stage file that imports storage would be reported."""
    fake = REPO / "worker" / "poll" / "feeds.py"
    assert "storage.repo" not in _imports(fake)
    source = "from storage import repo\nfrom worker.http import fetch\n"
    tree_imports = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            tree_imports += [f"{node.module}.{a.name}" for a in node.names]
    assert [m for m in tree_imports if not _within(m, "worker.model", "worker.poll")] == [
        "storage.repo",
        "worker.http.fetch",
    ]


def test_importing_storage_loads_no_parser_client_or_numpy() -> None:
    code = (
        "import sys, storage.models, storage.queries, storage.repo, storage.story_index, storage.db;"
        "heavy = [m for m in ('numpy', 'trafilatura', 'lxml', 'requests', 'feedparser', 'htmldate', 'celery')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_the_model_loads_nothing_heavy() -> None:
    code = (
        "import sys, worker.model.article, worker.model.feed, worker.model.dedupe, worker.model.story,"
        " worker.model.urls, worker.model.clock;"
        "print(','.join(m for m in sys.modules if m.split('.')[0] in"
        " ('numpy', 'sqlalchemy', 'requests', 'lxml', 'trafilatura', 'celery', 'storage')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
