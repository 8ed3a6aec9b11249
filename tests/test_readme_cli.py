"""The README's command table names every command the CLI has, and every `--json` it takes."""

from __future__ import annotations

import re
from pathlib import Path

import click

from worker.cli import cli

REPO = Path(__file__).resolve().parents[1]


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append((path, command))
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


def _table() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `newsworker")]


def test_every_command_and_json_option_is_in_the_readme_table() -> None:
    rows = _table()
    assert rows
    for path, command in _commands(cli):
        if isinstance(command, click.Group) and command.commands and not command.invoke_without_command:
            continue  # a plain group: its subcommands are listed
        name = " ".join(path)
        # a row names the command in full, or as "`parent …` / `child …`" within the parent's row
        parent = f"(?:{re.escape(path[0])} )?" if len(path) > 1 else ""
        pattern = re.compile(rf"`newsworker {re.escape(name)}\b|` / `{parent}{re.escape(path[-1])}\b")
        matching = [row for row in rows if pattern.search(row) and (len(path) == 1 or f"`newsworker {path[0]} " in row)]
        assert matching, f"the README's command table does not list `newsworker {name}`"
        takes_json = any("--json" in p.opts for p in command.params if isinstance(p, click.Option))
        if takes_json:
            assert any("--json" in row for row in matching), f"`newsworker {name} --json` is not in the README"
