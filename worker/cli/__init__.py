"""The ``newsworker`` command: the same handlers the Celery tasks call.

One module per command group; this package puts them under one click group.
Exit codes: 0 success, 1 the work ran but something failed (bad import lines,
failed re-ingests), 2 the command could not run (bad settings, unknown id,
schema missing — the message says what to do), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import signal
import sys

import click

from worker.cli.admin import config_command, db_group
from worker.cli.articles import articles_group
from worker.cli.common import CONTEXT_SETTINGS, Context, fail, warn
from worker.cli.events import events_group
from worker.cli.feeds import feeds_group
from worker.cli.reingest import reingest_group
from worker.cli.run import beat_command, flower_command, run_command, worker_command
from worker.cli.stats import stats_command
from worker.cli.stories import stories_group
from worker.cli.transfer import export_command, import_command
from worker.poll.opml import FeedSpec
from worker.settings import SettingsError, load_settings, unknown_variables


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="newsworker")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """newsworker: poll news feeds, normalise, deduplicate and link articles.

    Run `newsworker COMMAND --help` for each command. Exit codes: 0 ok, 1 some
    items failed, 2 could not run (the message says what to do), 130 interrupted.
    """
    for message in unknown_variables():
        warn(message)
    try:
        ctx.obj = Context(load_settings())
    except SettingsError as exc:
        fail(f"{exc}; `newsworker config --help` and the README's Configuration section list the settings")


for _command in (
    config_command,
    db_group,
    feeds_group,
    articles_group,
    stories_group,
    reingest_group,
    stats_command,
    events_group,
    import_command,
    export_command,
    run_command,
    worker_command,
    beat_command,
    flower_command,
):
    cli.add_command(_command)


def _interrupt_on_sigterm() -> None:
    """``docker stop`` / ``kill`` end a command as Ctrl-C does: runs are left interrupted and
    resumable, never "running" (the worker and beat keep Celery's own signal handling)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (embedded in another program)
        signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    if not {"worker", "beat"} & set(sys.argv[1:2]):
        _interrupt_on_sigterm()
    cli(prog_name="newsworker")


__all__ = ["FeedSpec", "cli", "main"]
