"""Which embedded lease owners are gone: names this process writes, judged against real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from worker.service.owners import embedded_owner, embedded_owner_is_gone


def _finished_child_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    return child.pid


def test_an_owner_names_its_mode_host_and_process_and_fits_the_column() -> None:
    owner = embedded_owner("pool")
    mode, host, process, token = owner.split(":")
    assert (mode, host) == ("pool", socket.gethostname()[:24].replace(":", "-"))
    assert process.split(".")[0] == str(os.getpid())
    assert len(token) == 8 and len(owner) <= 64
    assert embedded_owner("pool") != owner  # each dispatcher its own


def test_this_process_is_alive_and_a_finished_one_is_gone() -> None:
    assert not embedded_owner_is_gone(embedded_owner("local"))
    mode, host, _, token = embedded_owner("pool").split(":")
    assert embedded_owner_is_gone(f"{mode}:{host}:{_finished_child_pid()}.1:{token}")


def test_a_pid_used_again_by_another_process_is_gone() -> None:
    # a restarted container runs `newsworker run` under the pid its previous run had
    mode, host, process, token = embedded_owner("pool").split(":")
    pid, started = process.split(".")
    assert started  # Linux: the start time is known
    assert embedded_owner_is_gone(f"{mode}:{host}:{pid}.{int(started) - 1}:{token}")


def test_owners_that_cannot_be_judged_here_are_never_gone() -> None:
    _, host, _, token = embedded_owner("pool").split(":")
    dead = _finished_child_pid()
    assert not embedded_owner_is_gone(f"pool:another-host:{dead}.1:{token}")
    assert not embedded_owner_is_gone("5b2f0c64-1f7e-4c5e-9a55-3f4f8f1c2d11")  # a Celery task id
    assert not embedded_owner_is_gone("pool-0123456789abcdef")  # named by an earlier release
    assert not embedded_owner_is_gone(f"celery:{host}:{dead}.1:{token}")
