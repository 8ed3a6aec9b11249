"""SSRF, decompression-bomb and trickle tests against real servers on loopback.

The "forbidden" server listens on 127.0.0.1 (and ::1 on the same port when
IPv6 is available) and counts every request that reaches it. The "allowed"
server listens on 127.0.0.2, which the fetcher may reach only because the
policy lists exactly 127.0.0.2/32 — standing in for a public feed host.
"""

from __future__ import annotations

import ipaddress
import resource
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import brotli
import pytest

from tests.support.httpserver import LocalHTTPServer, Reply, ipv6_loopback_available
from worker.http.fetch import BlockedAddress, DeadlineExceeded, Fetcher, FetchPolicy, ResponseTooLarge
from worker.model.fetch import FetchError

pytestmark = pytest.mark.integration

ALLOWED_IP = "127.0.0.2"
ALLOWED_NAME = "feeds.example.test"


class Forbidden:
    """The servers an attacker wants to reach, with one shared request count."""

    def __init__(self) -> None:
        self.v4 = LocalHTTPServer("127.0.0.1").start()
        self.port = self.v4.port
        self.v6: LocalHTTPServer | None = None
        if ipv6_loopback_available():
            try:
                self.v6 = LocalHTTPServer("::1", self.port).start()
            except OSError:
                self.v6 = None
        for srv in self.servers:
            srv.default = Reply(200, {"Content-Type": "text/plain"}, b"internal secret")

    @property
    def servers(self) -> list[LocalHTTPServer]:
        return [s for s in (self.v4, self.v6) if s is not None]

    def hits(self) -> int:
        return sum(s.hit_count() for s in self.servers)

    def stop(self) -> None:
        for srv in self.servers:
            srv.stop()


@pytest.fixture(scope="module")
def forbidden() -> Iterator[Forbidden]:
    f = Forbidden()
    yield f
    f.stop()


@pytest.fixture(scope="module")
def allowed() -> Iterator[LocalHTTPServer]:
    try:
        srv = LocalHTTPServer(ALLOWED_IP)
    except OSError:
        pytest.skip("cannot bind 127.0.0.2 (loopback /8 not routed here)")
    with srv:
        yield srv


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(i[4][0]) for i in infos]

    return resolve


def _guarded_fetcher(**policy: object) -> Fetcher:
    return Fetcher(
        FetchPolicy(allowed_networks=(f"{ALLOWED_IP}/32",), **policy),  # type: ignore[arg-type]
        resolver=_resolver({ALLOWED_NAME: [ALLOWED_IP]}),
    )


LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "0x7f.0.0.1",
    "017700000001",
    "127.0.0.1.",
    "0.0.0.0",
    "0",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "localhost",
    "LOCALHOST",
]

# Spellings some stacks map to loopback; here they are refused one way or another
# (blocked, invalid, or unresolvable) — what matters is that nothing is reached.
EXOTIC_SPELLINGS = [
    "localhost.",
    "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ",
    "１２７.０.０.１",
    "127.0.0.1%00.example",
    "127.0.0.1:80@",
]


def _url(host: str, port: int, path: str = "/feed.xml") -> str:
    return f"http://{host}:{port}{path}"


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_loopback_spellings_are_blocked_and_never_reached(forbidden: Forbidden, host: str) -> None:
    before = forbidden.hits()
    with _guarded_fetcher() as fetcher, pytest.raises(BlockedAddress) as info:
        fetcher.get(_url(host, forbidden.port))
    assert info.value.reason == "blocked_address"
    assert forbidden.hits() == before == 0


@pytest.mark.parametrize("host", EXOTIC_SPELLINGS)
def test_exotic_spellings_never_reach_loopback(forbidden: Forbidden, host: str) -> None:
    with _guarded_fetcher() as fetcher, pytest.raises(FetchError):
        fetcher.get(_url(host, forbidden.port))
    assert forbidden.hits() == 0


# The control: the same spellings DO reach the forbidden server when private
# networks are allowed, so the zero above is the guard's doing, not a dead URL.
ROUTABLE = ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "0.0.0.0",
            "[::ffff:127.0.0.1]", "localhost"]  # fmt: skip


@pytest.mark.parametrize("host", ROUTABLE)
def test_control_spellings_reach_the_server_when_allowed(host: str) -> None:
    # A separate server so the zero counts above stay meaningful whatever the order.
    with LocalHTTPServer("127.0.0.1") as target:
        target.default = Reply(200, {}, b"reached")
        with Fetcher(FetchPolicy(allow_private_networks=True)) as fetcher:
            result = fetcher.get(_url(host, target.port))
        assert result.body == b"reached"
        assert target.hit_count() == 1


def test_ipv6_loopback_control_when_allowed() -> None:
    if not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback")
    with LocalHTTPServer("::1") as target:
        target.default = Reply(200, {}, b"reached6")
        with Fetcher(FetchPolicy(allow_private_networks=True)) as fetcher:
            assert fetcher.get(_url("[::1]", target.port)).body == b"reached6"


REDIRECT_TARGETS = ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1",
                    "0.0.0.0", "[::ffff:127.0.0.1]", "[::1]", "localhost"]  # fmt: skip


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("target_host", REDIRECT_TARGETS)
def test_redirect_from_allowed_host_to_loopback_is_blocked(
    forbidden: Forbidden, allowed: LocalHTTPServer, status: int, target_host: str
) -> None:
    path = f"/redir-{status}-{REDIRECT_TARGETS.index(target_host)}"
    allowed.route(path, Reply(status, {"Location": _url(target_host, forbidden.port, "/admin")}))
    before_allowed = allowed.hit_count()
    with _guarded_fetcher() as fetcher, pytest.raises(BlockedAddress):
        fetcher.get(_url(ALLOWED_NAME, allowed.port, path))
    assert allowed.hit_count() == before_allowed + 1  # the allowed hop really happened
    assert forbidden.hits() == 0


def test_redirect_chain_reaching_loopback_on_a_late_hop(forbidden: Forbidden, allowed: LocalHTTPServer) -> None:
    allowed.route("/chain1", Reply(301, {"Location": "/chain2"}))
    allowed.route("/chain2", Reply(302, {"Location": f"http://{ALLOWED_NAME}:{allowed.port}/c3"}))
    allowed.route("/c3", Reply(307, {"Location": _url("2130706433", forbidden.port)}))
    with _guarded_fetcher() as fetcher, pytest.raises(BlockedAddress):
        fetcher.get(_url(ALLOWED_NAME, allowed.port, "/chain1"))
    assert forbidden.hits() == 0


def test_allowed_host_itself_is_fetched(allowed: LocalHTTPServer) -> None:
    allowed.route("/ok", Reply(200, {"Content-Type": "text/xml"}, b"<rss/>"))
    with _guarded_fetcher() as fetcher:
        result = fetcher.get(_url(ALLOWED_NAME, allowed.port, "/ok"))
        assert result.body == b"<rss/>"
        assert fetcher.last_connected_ip == ipaddress.ip_address(ALLOWED_IP)
    # The Host header carries the name, not the pinned address.
    assert allowed.hits[-1].headers["Host"] == f"{ALLOWED_NAME}:{allowed.port}"


def test_dns_rebinding_connects_to_the_checked_address(forbidden: Forbidden) -> None:
    """A name that answers allowed first and loopback afterwards never reaches loopback.

    The allowed twin listens on 127.0.0.2 on the SAME port as the forbidden
    server, so a second resolution inside the HTTP stack would land there.
    """
    answers = [[ALLOWED_IP], ["127.0.0.1"]]
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls) - 1, len(answers) - 1)]

    try:
        twin = LocalHTTPServer(ALLOWED_IP, forbidden.port)
    except OSError:
        pytest.skip("cannot bind the twin server")
    with twin:
        twin.route("/rebind", Reply(200, {}, b"from the checked address"))
        policy = FetchPolicy(allowed_networks=(f"{ALLOWED_IP}/32",))
        with Fetcher(policy, resolver=rebinding) as fetcher:
            result = fetcher.get(_url("rebind.test", forbidden.port, "/rebind"))
            assert result.body == b"from the checked address"
            with pytest.raises(BlockedAddress):
                fetcher.get(_url("rebind.test", forbidden.port, "/rebind"))
        assert twin.hit_count() == 1
    # One resolution per request: nothing resolved the name again behind our back.
    assert calls == ["rebind.test", "rebind.test"]
    assert forbidden.hits() == 0


def test_name_resolving_to_private_and_public_is_blocked(forbidden: Forbidden) -> None:
    policy = FetchPolicy(allowed_networks=(f"{ALLOWED_IP}/32",))
    resolver = _resolver({"mixed.test": [ALLOWED_IP, "127.0.0.1"]})
    with Fetcher(policy, resolver=resolver) as fetcher, pytest.raises(BlockedAddress):
        fetcher.get(_url("mixed.test", forbidden.port))
    assert forbidden.hits() == 0


def test_metadata_address_is_blocked_without_connecting() -> None:
    with Fetcher(FetchPolicy(connect_timeout=0.5)) as fetcher:
        for host in ("169.254.169.254", "0xa9fea9fe", "[::ffff:169.254.169.254]", "100.64.0.1"):
            with pytest.raises(BlockedAddress):
                fetcher.get(f"http://{host}/latest/meta-data/")


# --- decompression bomb -------------------------------------------------------------

BOMB_DECODED = 512 * 1024 * 1024


def _bomb(kind: str) -> bytes:
    """512 MiB of zeros compressed (~0.5 MB on the wire), built without holding 512 MiB."""
    block = bytes(1024 * 1024)
    if kind == "br":
        comp = brotli.Compressor(quality=5)
        parts = [comp.process(block) for _ in range(BOMB_DECODED // len(block))]
        parts.append(comp.finish())
        return b"".join(parts)
    wbits = 31 if kind == "gzip" else 15
    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    parts = [z.compress(block) for _ in range(BOMB_DECODED // len(block))]
    parts.append(z.flush())
    return b"".join(parts)


@pytest.fixture(scope="module")
def bomb_server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer("127.0.0.1") as srv:
        for kind in ("gzip", "deflate", "br"):
            srv.route(
                f"/bomb.{kind}",
                Reply(200, {"Content-Type": "application/rss+xml", "Content-Encoding": kind},
                      _bomb(kind)),
            )  # fmt: skip
        yield srv


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.parametrize("kind", ["gzip", "deflate", "br"])
def test_decompression_bomb_stops_at_the_cap_with_little_memory(
    bomb_server: LocalHTTPServer, kind: str, record_property: Callable[[str, object], None]
) -> None:
    cap = 15 * 1024 * 1024
    policy = FetchPolicy(allow_private_networks=True, max_body_bytes=cap)
    with Fetcher(policy) as fetcher:
        rss_before = _rss_kib()
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(ResponseTooLarge) as info:
                fetcher.get(bomb_server.url(f"/bomb.{kind}"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        elapsed = time.monotonic() - started
        rss_after = _rss_kib()
    assert info.value.reason == "too_large"
    peak_mb = peak / 1e6
    rss_growth_mb = max(0, rss_after - rss_before) / 1024
    print(
        f"\n[figure] {kind} bomb 512 MiB decoded, cap 15 MiB: stopped in {elapsed:.2f}s, "
        f"traced peak {peak_mb:.1f} MB, RSS growth {rss_growth_mb:.1f} MB, "
        f"max RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    record_property(f"bomb_{kind}_peak_mb", round(peak_mb, 1))
    assert peak_mb < 50
    assert rss_growth_mb < 50


# --- trickling server ---------------------------------------------------------------


def _trickle_body(h: object) -> None:
    from http.server import BaseHTTPRequestHandler

    assert isinstance(h, BaseHTTPRequestHandler)
    h.send_response(200)
    h.send_header("Content-Length", "1000000")
    h.end_headers()
    h.wfile.flush()
    for _ in range(1_000_000):
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(0.5)


def _trickle_headers(h: object) -> None:
    from http.server import BaseHTTPRequestHandler

    assert isinstance(h, BaseHTTPRequestHandler)
    h.wfile.write(b"HTTP/1.1 200 OK\r\n")
    h.wfile.flush()
    for i in range(1_000_000):
        h.wfile.write(f"X-Slow-{i}: y\r\n".encode())
        h.wfile.flush()
        time.sleep(0.5)


def _silent_after_headers(h: object) -> None:
    from http.server import BaseHTTPRequestHandler

    assert isinstance(h, BaseHTTPRequestHandler)
    h.send_response(200)
    h.send_header("Content-Length", "10")
    h.end_headers()
    h.wfile.flush()
    time.sleep(30)


@pytest.mark.parametrize(
    "handler", [_trickle_body, _trickle_headers, _silent_after_headers],
    ids=["body-1B-per-0.5s", "headers-1-line-per-0.5s", "silent-after-headers"],
)  # fmt: skip
def test_trickling_server_is_cut_off_at_the_deadline(
    handler: object, record_property: Callable[[str, object], None]
) -> None:
    deadline = 2.0
    with LocalHTTPServer("127.0.0.1") as srv:
        srv.route("/slow", handler)  # type: ignore[arg-type]
        policy = FetchPolicy(allow_private_networks=True, deadline_seconds=deadline, read_timeout=20.0)
        with Fetcher(policy) as fetcher:
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded) as info:
                fetcher.get(srv.url("/slow"))
            elapsed = time.monotonic() - started
    assert info.value.reason == "deadline"
    print(f"\n[figure] trickle ({getattr(handler, '__name__', handler)}): deadline {deadline}s, "
          f"cut off after {elapsed:.3f}s (overshoot {elapsed - deadline:+.3f}s)")  # fmt: skip
    record_property("trickle_overshoot_s", round(elapsed - deadline, 3))
    assert elapsed < deadline + 1.0  # the hard cut-off the issue demands


def test_deadline_covers_all_redirect_hops(allowed: LocalHTTPServer) -> None:
    def slow_redirect(h: object) -> None:
        time.sleep(0.6)
        Reply(302, {"Location": "/slow-hop"})(h)  # type: ignore[arg-type]

    allowed.route("/slow-hop", slow_redirect)
    with _guarded_fetcher(deadline_seconds=1.5) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError) as info:
            fetcher.get(_url(ALLOWED_NAME, allowed.port, "/slow-hop"))
        elapsed = time.monotonic() - started
    assert info.value.reason == "deadline"
    assert elapsed < 1.5 + 1.0


def test_falls_back_to_the_next_checked_address(allowed: LocalHTTPServer) -> None:
    """127.0.0.3 refuses (nothing listens there), 127.0.0.2 answers."""
    allowed.route("/fallback", Reply(200, {}, b"second address"))
    policy = FetchPolicy(allowed_networks=("127.0.0.2/32", "127.0.0.3/32"))
    resolver = _resolver({"dual.test": ["127.0.0.3", ALLOWED_IP]})
    with Fetcher(policy, resolver=resolver) as fetcher:
        assert fetcher.get(_url("dual.test", allowed.port, "/fallback")).body == b"second address"
        assert fetcher.last_connected_ip == ipaddress.ip_address(ALLOWED_IP)


def test_ipv4_is_tried_first(allowed: LocalHTTPServer) -> None:
    allowed.route("/v4first", Reply(200, {}, b"v4"))
    policy = FetchPolicy(allowed_networks=(f"{ALLOWED_IP}/32", "::1/128"))
    resolver = _resolver({"both.test": ["::1", ALLOWED_IP]})
    with Fetcher(policy, resolver=resolver) as fetcher:
        assert fetcher.get(_url("both.test", allowed.port, "/v4first")).body == b"v4"
        assert fetcher.last_connected_ip == ipaddress.ip_address(ALLOWED_IP)


def test_fallback_never_reaches_a_blocked_address(forbidden: Forbidden) -> None:
    """A refused allowed address does not make the fetcher try anything unchecked."""
    policy = FetchPolicy(allowed_networks=("127.0.0.3/32",))
    resolver = _resolver({"half.test": ["127.0.0.3", "127.0.0.1"]})
    with Fetcher(policy, resolver=resolver) as fetcher, pytest.raises(BlockedAddress):
        fetcher.get(_url("half.test", forbidden.port))
    assert forbidden.hits() == 0


def test_trickled_tls_handshake_is_cut_off_at_the_deadline(
    record_property: Callable[[str, object], None],
) -> None:
    """A 'TLS server' that answers the ClientHello one byte every 0.5 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)  # the ClientHello
            for byte in b"\x16\x03\x03\x40\x00" + b"\x02" * 16384:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = 2.0
    policy = FetchPolicy(allow_private_networks=True, deadline_seconds=deadline)
    try:
        with Fetcher(policy) as fetcher:
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded):
                fetcher.get(f"https://127.0.0.1:{port}/feed")
            elapsed = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
    print(f"\n[figure] trickled TLS handshake: deadline {deadline}s, cut off after {elapsed:.3f}s")
    record_property("tls_trickle_overshoot_s", round(elapsed - deadline, 3))
    assert elapsed < deadline + 1.0


def test_proxy_environment_is_ignored(allowed: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment would connect to an address we never checked."""
    with LocalHTTPServer("127.0.0.1") as proxy:
        proxy.default = Reply(200, {}, b"via proxy")
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url("/"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        allowed.route("/direct", Reply(200, {}, b"direct"))
        with _guarded_fetcher() as fetcher:
            assert fetcher.get(_url(ALLOWED_NAME, allowed.port, "/direct")).body == b"direct"
        assert proxy.hit_count() == 0
