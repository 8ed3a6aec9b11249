"""The address policy, table-driven: which addresses are public, how odd hosts parse."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from worker.http.netguard import (
    BlockedAddress,
    CachingResolver,
    ConnectFailed,
    is_allowed,
    is_public_address,
    parse_host_literal,
    parse_networks,
    resolve_public,
)

NOT_PUBLIC = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "192.0.0.8",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "192.88.99.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::8.8.8.8",  # IPv4-compatible is never used for real hosts
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::808:808",  # NAT64 of a public address still reaches via the local translator
    "64:ff9b:1::1",
    "fe80::1",
    "fec0::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "100::1",
    "2001:db8::1",
    "2002:7f00:1::1",  # 6to4 embedding 127.0.0.1
    "2002:a00:1::1",  # 6to4 embedding 10.0.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo whose client is 127.0.0.1
    "3fff::1",
    "5f00::1",
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.32.0.1",
    "::ffff:8.8.8.8",  # mapped public v4
    "2606:4700:4700::1111",
    "2a00:1450:4001:82b::200e",
    "2002:808:808::1",  # 6to4 embedding 8.8.8.8
]


@pytest.mark.parametrize("text", NOT_PUBLIC)
def test_not_public(text: str) -> None:
    assert not is_public_address(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public(text: str) -> None:
    assert is_public_address(ipaddress.ip_address(text))


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0.0.0.0", "0.0.0.0"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[0:0:0:0:0:ffff:7f00:1]", "::ffff:7f00:1"),
        ("[fe80::1%eth0]", "fe80::1"),
        ("169.254.169.254", "169.254.169.254"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_parse_host_literal(host: str, expected: str) -> None:
    assert parse_host_literal(host) == ipaddress.ip_address(expected)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "localhost",
        "1.2.3.4.5",
        "256.1.1.1",
        "127.0.0.256",
        "4294967296",
        "0x1g",
        "08.0.0.1",  # 08 is not octal: a name, left to DNS (which refuses it)
        "feeds.0x7f.example",
        "",
    ],
)
def test_parse_host_literal_names(host: str) -> None:
    assert parse_host_literal(host) is None


class _Fake:
    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


_fake = _Fake


def test_resolve_public_accepts_public_name() -> None:
    resolver = _fake({"feeds.example": ["93.184.216.34", "2606:2800:220:1::1"]})
    got = resolve_public("feeds.example", 443, False, resolver=resolver)
    assert [str(a) for a in got] == ["93.184.216.34", "2606:2800:220:1::1"]


def test_resolve_public_refuses_when_any_address_is_private() -> None:
    resolver = _fake({"mixed.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(BlockedAddress) as info:
        resolve_public("mixed.example", 80, False, resolver=resolver)
    assert info.value.reason == "blocked_address"
    assert "10.0.0.5" in str(info.value)


def test_resolve_public_literals_never_ask_the_resolver() -> None:
    resolver = _fake({})
    for host in ("2130706433", "[::1]", "0x7f000001"):
        with pytest.raises(BlockedAddress):
            resolve_public(host, 80, False, resolver=resolver)
    assert resolver.calls == []


def test_resolve_public_dns_failure_is_connect_failed() -> None:
    with pytest.raises(ConnectFailed) as info:
        resolve_public("nowhere.invalid", 80, False, resolver=_fake({}))
    assert info.value.reason == "dns"


def test_resolve_public_empty_answer_is_dns_failure() -> None:
    with pytest.raises(ConnectFailed) as info:
        resolve_public("empty.example", 80, False, resolver=_fake({"empty.example": []}))
    assert info.value.reason == "dns"


def test_allow_private_lifts_the_block() -> None:
    resolver = _fake({"intranet": ["10.1.2.3"]})
    got = resolve_public("intranet", 80, True, resolver=resolver)
    assert [str(a) for a in got] == ["10.1.2.3"]


def test_allowed_networks_are_exact() -> None:
    nets = parse_networks(["127.0.0.2/32", "10.9.0.0/16"])
    assert is_allowed(ipaddress.ip_address("127.0.0.2"), allow_private=False, allowed_networks=nets)
    assert is_allowed(ipaddress.ip_address("10.9.3.4"), allow_private=False, allowed_networks=nets)
    assert is_allowed(ipaddress.ip_address("::ffff:127.0.0.2"), allow_private=False, allowed_networks=nets)
    for other in ("127.0.0.1", "10.8.0.1", "::1", "169.254.169.254"):
        assert not is_allowed(ipaddress.ip_address(other), allow_private=False, allowed_networks=nets)


def test_caching_resolver_ttl_lru_and_failures() -> None:
    now = [0.0]
    inner = _Fake({"a.example": ["93.184.216.34"], "b.example": ["1.1.1.1"]})
    cache = CachingResolver(inner, ttl=60, maxsize=1, clock=lambda: now[0])
    assert cache("a.example", 80) == ("93.184.216.34",)
    assert cache("A.example", 80) == ("93.184.216.34",)
    assert inner.calls == ["a.example"]
    now[0] = 61.0
    cache("a.example", 80)
    assert inner.calls == ["a.example", "a.example"]  # expired
    cache("b.example", 80)  # evicts a (maxsize 1)
    cache("a.example", 80)
    assert inner.calls.count("a.example") == 3
    # Failures: see test_caching_resolver_remembers_missing_names_but_not_temporary_failures.


def test_caching_resolver_remembers_missing_names_but_not_temporary_failures() -> None:
    calls: list[str] = []
    now = [0.0]

    def inner(host: str, port: int) -> list[str]:
        calls.append(host)
        if host == "missing.example":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    resolver = CachingResolver(inner, negative_ttl=30.0, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(socket.gaierror):
            resolver("missing.example", 443)
        with pytest.raises(socket.gaierror):
            resolver("flaky.example", 443)
    assert calls.count("missing.example") == 1
    assert calls.count("flaky.example") == 3
    now[0] = 31.0  # the negative answer expires
    with pytest.raises(socket.gaierror):
        resolver("missing.example", 443)
    assert calls.count("missing.example") == 2
