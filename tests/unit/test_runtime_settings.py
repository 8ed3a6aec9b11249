"""Fetch and Redis settings reach the objects that use them."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.service.pool import normaliser_count, usable_cpus
from worker.service.runtime import fetch_policy, host_limiter
from worker.settings import SettingsError, load_settings


def test_fetch_settings_map_into_the_fetch_policy(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings(
        allowed_networks=" 10.1.2.0/24, fd00:1::/64 ,192.168.7.9", ca_bundle=str(bundle), dns_cache_seconds=0
    )
    policy = fetch_policy(settings)
    assert policy.allowed_networks == ("10.1.2.0/24", "fd00:1::/64", "192.168.7.9/32")
    assert policy.ca_bundle == str(bundle)
    assert policy.dns_cache_seconds == 0
    defaults = fetch_policy(load_settings())
    assert (defaults.allowed_networks, defaults.ca_bundle, defaults.dns_cache_seconds) == ((), None, 60.0)


def test_environment_spelling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWORKER_ALLOWED_NETWORKS", "127.0.0.2/32,10.0.0.0/8")
    monkeypatch.setenv("NEWSWORKER_REDIS_KEY_PREFIX", "nw-staging:")
    monkeypatch.setenv("NEWSWORKER_REDIS_URL", "redis://127.0.0.1:1/0")  # never connected to here
    settings = load_settings()
    assert settings.allowed_network_list == ("127.0.0.2/32", "10.0.0.0/8")
    limiter = host_limiter(settings)
    assert limiter is not None and limiter.prefix == "nw-staging:"
    assert load_settings().redis_key_prefix == "nw-staging:"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEWSWORKER_ALLOWED_NETWORKS", "10.0.0.0/33"),
        ("NEWSWORKER_ALLOWED_NETWORKS", "intranet"),
        ("NEWSWORKER_CA_BUNDLE", "/nonexistent/ca.pem"),
        ("NEWSWORKER_DNS_CACHE_SECONDS", "-1"),
        ("NEWSWORKER_REDIS_KEY_PREFIX", ""),
        ("NEWSWORKER_BEAT_LOCK_SECONDS", "1"),
        ("NEWSWORKER_NORMALISE_PROCESSES", "many"),
        ("NEWSWORKER_NORMALISE_PROCESSES", "-1"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


@pytest.mark.parametrize(
    ("value", "cpus", "expected"),
    [("auto", 1, 0), ("auto", 1.5, 0), ("auto", 2, 1), ("auto", 16, 1), ("0", 8, 0), ("3", 1, 3)],
)
def test_normalising_processes_auto_is_one_where_two_cpus_are_usable(
    monkeypatch: pytest.MonkeyPatch, value: str, cpus: float, expected: int
) -> None:
    """One normalising process leaves the writer a core; a 1.5-CPU container quota is not two."""
    monkeypatch.setenv("NEWSWORKER_NORMALISE_PROCESSES", value)
    assert normaliser_count(load_settings().normalise_processes, cpus=cpus) == expected


def test_usable_cpus_never_exceed_the_affinity() -> None:
    import os

    assert 0 < usable_cpus() <= len(os.sched_getaffinity(0))
