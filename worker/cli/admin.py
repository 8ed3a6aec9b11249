"""``newsworker config`` and ``newsworker db``."""

from __future__ import annotations

import json

import click
from rich.table import Table
from sqlalchemy.exc import OperationalError as DBOperationalError

from storage.db import Database
from storage.schema import current_revision, head_revision, upgrade
from worker.cli.common import CONTEXT_SETTINGS, Context, console, echo_json, fail, pass_context


@click.command("config", context_settings=CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def config_command(ctx: Context, as_json: bool) -> None:
    """Print the effective settings (secrets masked)."""
    values = ctx.settings.masked()
    if as_json:
        click.echo(json.dumps(values, indent=2, default=str))
        return
    table = Table("setting", "value", title="effective settings")
    for key, value in values.items():
        table.add_row(f"NEWSWORKER_{key.upper()}", "" if value is None else str(value))
    console.print(table)


@click.group("db", context_settings=CONTEXT_SETTINGS)
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_context
def db_upgrade(ctx: Context, revision: str) -> None:
    """Create the schema or migrate it to the latest revision."""
    db = Database(ctx.settings.database_url)
    try:
        before, after = upgrade(db.engine, db.url, revision)
    except DBOperationalError as exc:
        fail(f"cannot open the database {ctx.settings.masked()['database_url']}: {exc.orig}")
    console.print(f"database at revision {after} (was {before or 'empty'})")


@db_group.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
def db_current(ctx: Context, as_json: bool) -> None:
    """Show the schema revision of the database and of the code."""
    db = Database(ctx.settings.database_url)
    try:
        current = current_revision(db.engine)
    except DBOperationalError as exc:
        fail(f"cannot open the database {ctx.settings.masked()['database_url']}: {exc.orig}")
    head = head_revision()
    if as_json:
        echo_json({"database": current, "code": head, "up_to_date": current == head})
        return
    console.print(f"database: {current or 'empty'}; code: {head}", highlight=False)
