"""Response handling of the Fetcher against a real local server (private networks allowed here;
the address guard is exercised in test_fetch_security.py)."""

from __future__ import annotations

import gzip
import multiprocessing
import socket
import ssl
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import brotli
import pytest

from tests.support.httpserver import LocalHTTPServer, Reply
from worker.http.fetch import (
    BadResponse,
    ConnectFailed,
    Fetcher,
    FetchPolicy,
    InvalidAddress,
    ResponseTooLarge,
    TooManyRedirects,
)
from worker.model.fetch import FetchError

pytestmark = pytest.mark.integration

LOCAL = FetchPolicy(allow_private_networks=True)


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer("127.0.0.1") as s:
        yield s


@pytest.fixture(scope="module")
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(LOCAL) as f:
        yield f


@pytest.mark.parametrize("status", [200, 203, 404, 410, 429, 500, 502, 503])
def test_http_statuses_are_results(srv: LocalHTTPServer, fetcher: Fetcher, status: int) -> None:
    srv.route(f"/status/{status}", Reply(status, {"Retry-After": "120", "X-Case": "Yes"}, b"b"))
    result = fetcher.get(srv.url(f"/status/{status}"))
    assert result.status == status
    assert result.body == b"b"
    assert result.headers["retry-after"] == "120"
    assert result.headers["x-case"] == "Yes"  # names lower-cased, values kept
    assert result.redirects == () and result.permanent_redirect is None
    assert result.final_url == result.requested_url == srv.url(f"/status/{status}")
    assert result.elapsed_seconds > 0


def _conditional(h: BaseHTTPRequestHandler) -> None:
    etag, lm = '"v42"', "Mon, 02 Mar 2026 10:00:00 GMT"
    if h.headers.get("If-None-Match") == etag or h.headers.get("If-Modified-Since") == lm:
        Reply(304, {"ETag": etag, "Last-Modified": lm})(h)
    else:
        Reply(200, {"ETag": etag, "Last-Modified": lm, "Content-Type": "text/xml"}, b"<rss/>")(h)


def test_conditional_get(srv: LocalHTTPServer, fetcher: Fetcher) -> None:
    srv.route("/cond", _conditional)
    first = fetcher.get(srv.url("/cond"))
    assert first.status == 200 and not first.not_modified
    assert first.etag == '"v42"' and first.last_modified == "Mon, 02 Mar 2026 10:00:00 GMT"
    by_etag = fetcher.get(srv.url("/cond"), etag=first.etag)
    assert by_etag.not_modified and by_etag.body == b"" and by_etag.etag == '"v42"'
    by_date = fetcher.get(srv.url("/cond"), last_modified=first.last_modified)
    assert by_date.not_modified
    sent = srv.hits[-1].headers
    assert sent["If-Modified-Since"] == first.last_modified
    assert "If-None-Match" not in sent


def test_request_headers(srv: LocalHTTPServer, fetcher: Fetcher) -> None:
    srv.route("/h", Reply(200, {}, b"ok"))
    fetcher.get(srv.url("/h"))
    sent = srv.hits[-1].headers
    assert sent["User-Agent"] == LOCAL.user_agent
    assert "newsworker" in sent["User-Agent"] and "https://" in sent["User-Agent"]
    assert {"gzip", "deflate", "br"} <= {e.strip() for e in sent["Accept-Encoding"].split(",")}
    assert sent["Host"] == f"127.0.0.1:{srv.port}"
    assert "Cookie" not in sent
    fetcher.get(srv.url("/h"), user_agent="custom/1.0", accept="application/rss+xml")
    sent = srv.hits[-1].headers
    assert sent["User-Agent"] == "custom/1.0" and sent["Accept"] == "application/rss+xml"


def test_cookies_are_not_kept_between_polls(srv: LocalHTTPServer, fetcher: Fetcher) -> None:
    srv.route("/setcookie", Reply(200, {"Set-Cookie": "track=1; Path=/"}, b"ok"))
    fetcher.get(srv.url("/setcookie"))
    fetcher.get(srv.url("/setcookie"))
    assert "Cookie" not in srv.hits[-1].headers


# --- redirects ----------------------------------------------------------------------


def _chain(srv: LocalHTTPServer, name: str, statuses: list[int]) -> str:
    for i, code in enumerate(statuses):
        srv.route(f"/{name}/{i}", Reply(code, {"Location": f"/{name}/{i + 1}"}))
    srv.route(f"/{name}/{len(statuses)}", Reply(200, {}, b"end"))
    return srv.url(f"/{name}/0")


@pytest.mark.parametrize(
    ("statuses", "permanent"),
    [
        ([301], True),
        ([308], True),
        ([301, 308, 301], True),
        ([302], False),
        ([303], False),
        ([307], False),
        ([301, 302], False),
        ([302, 301], False),
        ([301] * 5, True),
    ],
)
def test_redirects(srv: LocalHTTPServer, fetcher: Fetcher, statuses: list[int], permanent: bool) -> None:
    name = "r" + "-".join(map(str, statuses))
    result = fetcher.get(_chain(srv, name, statuses))
    assert result.status == 200 and result.body == b"end"
    final = srv.url(f"/{name}/{len(statuses)}")
    assert result.final_url == final
    assert [s for s, _ in result.redirects] == statuses
    assert result.redirects[-1][1] == final
    assert result.permanent_redirect == (final if permanent else None)


def test_too_many_redirects(srv: LocalHTTPServer, fetcher: Fetcher) -> None:
    with pytest.raises(TooManyRedirects) as info:
        fetcher.get(_chain(srv, "six", [302] * 6))
    assert info.value.reason == "too_many_redirects"
    srv.route("/loop", Reply(301, {"Location": "/loop"}))
    with pytest.raises(TooManyRedirects):
        fetcher.get(srv.url("/loop"))


def test_redirect_to_other_scheme_is_refused(srv: LocalHTTPServer, fetcher: Fetcher) -> None:
    for i, target in enumerate(["file:///etc/passwd", "ftp://example.com/f", "gopher://x/"]):
        srv.route(f"/bad-scheme-{i}", Reply(302, {"Location": target}))
        with pytest.raises(InvalidAddress) as info:
            fetcher.get(srv.url(f"/bad-scheme-{i}"))
        assert info.value.reason == "invalid_url"


def test_redirect_without_location_is_a_result(srv: LocalHTTPServer, fetcher: Fetcher) -> None:
    srv.route("/noloc", Reply(302, {}, b""))
    assert fetcher.get(srv.url("/noloc")).status == 302


def test_conditional_headers_survive_redirects(srv: LocalHTTPServer, fetcher: Fetcher) -> None:
    srv.route("/moved-cond", Reply(301, {"Location": "/cond"}))
    srv.route("/cond", _conditional)
    result = fetcher.get(srv.url("/moved-cond"), etag='"v42"')
    assert result.not_modified and result.permanent_redirect == srv.url("/cond")


# --- bodies ---------------------------------------------------------------------------

TEXT = ("<rss><channel><title>Ünïcode ✓</title></channel></rss>" * 200).encode()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("identity", lambda b: b),
    ],
)
def test_content_encodings_are_undone(
    srv: LocalHTTPServer, fetcher: Fetcher, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    wire = compress(TEXT)
    srv.route(
        f"/enc/{encoding}",
        Reply(200, {"Content-Encoding": encoding, "Content-Type": "application/rss+xml"}, wire),
    )
    result = fetcher.get(srv.url(f"/enc/{encoding}"))
    assert result.body == TEXT
    assert result.encoded_bytes == len(wire)


@pytest.mark.parametrize(
    ("header", "ctype", "charset"),
    [
        ("application/rss+xml; charset=ISO-8859-1", "application/rss+xml", "iso-8859-1"),
        ('text/xml;charset="utf-8"', "text/xml", "utf-8"),
        ("Text/HTML", "text/html", None),
        ("text/html; boundary=x; charset=windows-1251", "text/html", "windows-1251"),
        (None, None, None),
    ],
)
def test_content_type_and_charset(
    srv: LocalHTTPServer,
    fetcher: Fetcher,
    header: str | None,
    ctype: str | None,
    charset: str | None,
) -> None:
    path = f"/ct/{abs(hash(header))}"
    srv.route(path, Reply(200, {"Content-Type": header} if header else {}, b"x"))
    result = fetcher.get(srv.url(path))
    assert result.content_type == ctype
    assert result.charset == charset


def test_cap_is_exact(srv: LocalHTTPServer) -> None:
    cap = 100_000
    srv.route("/exact", Reply(200, {"Content-Encoding": "gzip"}, gzip.compress(b"a" * cap)))
    srv.route("/over", Reply(200, {"Content-Encoding": "gzip"}, gzip.compress(b"a" * (cap + 1))))
    with Fetcher(FetchPolicy(allow_private_networks=True, max_body_bytes=cap)) as f:
        assert len(f.get(srv.url("/exact")).body) == cap
        with pytest.raises(ResponseTooLarge) as info:
            f.get(srv.url("/over"))
    assert info.value.reason == "too_large"


def test_announced_oversize_is_refused_without_reading(srv: LocalHTTPServer) -> None:
    def huge(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(10**12))
        h.end_headers()
        h.wfile.write(b"x" * 1000)

    srv.route("/huge", huge)
    policy = FetchPolicy(allow_private_networks=True, max_body_bytes=10_000)
    with Fetcher(policy) as f, pytest.raises(ResponseTooLarge):
        f.get(srv.url("/huge"))


def test_chunked_body(srv: LocalHTTPServer, fetcher: Fetcher) -> None:
    def chunked(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for piece in (b"<rss>", b"<channel/>" * 50, b"</rss>"):
            h.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        h.wfile.write(b"0\r\n\r\n")

    srv.route("/chunked", chunked)
    assert fetcher.get(srv.url("/chunked")).body == b"<rss>" + b"<channel/>" * 50 + b"</rss>"


def test_corrupt_gzip_is_bad_response(srv: LocalHTTPServer, fetcher: Fetcher) -> None:
    srv.route("/corrupt", Reply(200, {"Content-Encoding": "gzip"}, b"this is not gzip at all"))
    with pytest.raises(BadResponse) as info:
        fetcher.get(srv.url("/corrupt"))
    assert info.value.reason == "bad_response"


def test_truncated_body_is_bad_response(srv: LocalHTTPServer, fetcher: Fetcher) -> None:
    def truncated(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        h.wfile.write(b"only ten b")
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)

    srv.route("/truncated", truncated)
    with pytest.raises(BadResponse):
        fetcher.get(srv.url("/truncated"))


# --- transport failures ----------------------------------------------------------------


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: refused
        with Fetcher(LOCAL) as f, pytest.raises(ConnectFailed) as info:
            f.get(f"http://127.0.0.1:{port}/")
    assert info.value.reason == "connect"


def test_dns_failure() -> None:
    def nxdomain(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with Fetcher(FetchPolicy(), resolver=nxdomain) as f, pytest.raises(ConnectFailed) as info:
        f.get("https://no-such-host.example/feed")
    assert info.value.reason == "dns"


def test_read_timeout_before_headers(srv: LocalHTTPServer) -> None:
    def slow(h: BaseHTTPRequestHandler) -> None:
        time.sleep(1.5)
        Reply(200, {}, b"late")(h)

    srv.route("/slow-headers", slow)
    policy = FetchPolicy(allow_private_networks=True, read_timeout=0.3, deadline_seconds=10)
    with Fetcher(policy) as f, pytest.raises(ConnectFailed) as info:
        f.get(srv.url("/slow-headers"))
    assert info.value.reason == "timeout"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/feed",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "http:///path",
        "https://user:secret@example.com/feed",
        "http://[::1/feed",
        "http://example.com:99999/",
        "not a url",
        "",
    ],
)
def test_invalid_urls(url: str, fetcher: Fetcher) -> None:
    with pytest.raises(InvalidAddress) as info:
        fetcher.get(url)
    assert info.value.reason == "invalid_url"


# --- pooling and threads ---------------------------------------------------------------


def test_connections_are_pooled_across_200_304_and_redirects(srv: LocalHTTPServer) -> None:
    srv.route("/pooled", Reply(200, {}, b"p"))
    srv.route("/pooled-304", Reply(304, {"ETag": '"e"'}))
    srv.route("/pooled-moved", Reply(301, {"Location": "/pooled"}, b"moved, see /pooled"))
    with Fetcher(LOCAL) as f:
        for _ in range(3):
            f.get(srv.url("/pooled"))
            f.get(srv.url("/pooled-304"), etag='"e"')
            f.get(srv.url("/pooled-moved"))
    ports = {h.client_port for h in srv.hits if h.path.startswith("/pooled")}
    assert len(ports) == 1


def test_one_fetcher_shared_by_threads(srv: LocalHTTPServer) -> None:
    srv.route("/t", Reply(200, {}, b"t" * 1000))
    bodies: list[bytes] = []
    lock = threading.Lock()

    def work(f: Fetcher) -> None:
        for _ in range(20):
            body = f.get(srv.url("/t")).body
            with lock:
                bodies.append(body)

    with Fetcher(LOCAL) as f:
        threads = [threading.Thread(target=work, args=(f,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert bodies == [b"t" * 1000] * 160


# --- TLS with a pinned address --------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    try:
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=newsworker test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
        run("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=feeds.example.test")
        (d / "ext.cnf").write_text(
            "subjectAltName=DNS:feeds.example.test\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        )
        run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot make test certificates with openssl: {exc}")
    return d


@pytest.fixture(scope="module")
def tls_srv(pki: Path) -> Iterator[tuple[LocalHTTPServer, list[str]]]:
    sni: list[str] = []
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki / "leaf.pem", pki / "leaf.key")
    ctx.sni_callback = lambda sock, name, c: sni.append(str(name)) or None  # type: ignore[func-returns-value]
    try:
        s = LocalHTTPServer("127.0.0.2", tls=ctx)
    except OSError:
        pytest.skip("cannot bind 127.0.0.2")
    with s:
        s.route("/secure", Reply(200, {"Content-Type": "text/xml"}, b"<rss>tls</rss>"))
        yield s, sni


def _tls_fetcher(pki: Path | None) -> Fetcher:
    names = {"feeds.example.test": ["127.0.0.2"], "other.example.test": ["127.0.0.2"]}
    policy = FetchPolicy(allowed_networks=("127.0.0.2/32",), ca_bundle=str(pki / "ca.pem") if pki else None)
    return Fetcher(policy, resolver=lambda host, port: names[host])


def test_tls_to_pinned_address_verifies_the_name(pki: Path, tls_srv: tuple[LocalHTTPServer, list[str]]) -> None:
    srv, sni = tls_srv
    with _tls_fetcher(pki) as f:
        result = f.get(f"https://feeds.example.test:{srv.port}/secure")
    assert result.body == b"<rss>tls</rss>"
    assert sni[-1] == "feeds.example.test"  # SNI carries the name, not the pinned IP
    assert srv.hits[-1].headers["Host"] == f"feeds.example.test:{srv.port}"


def test_tls_certificate_for_another_name_is_refused(pki: Path, tls_srv: tuple[LocalHTTPServer, list[str]]) -> None:
    srv, _ = tls_srv
    before = srv.hit_count()
    with _tls_fetcher(pki) as f, pytest.raises(ConnectFailed) as info:
        f.get(f"https://other.example.test:{srv.port}/secure")
    assert info.value.reason == "tls"
    assert srv.hit_count() == before


def test_tls_untrusted_ca_is_refused(tls_srv: tuple[LocalHTTPServer, list[str]]) -> None:
    srv, _ = tls_srv
    with _tls_fetcher(None) as f, pytest.raises(ConnectFailed) as info:
        f.get(f"https://feeds.example.test:{srv.port}/secure")
    assert info.value.reason == "tls"


def _child_poll(f: Fetcher, url: str, out: Any) -> None:
    try:
        out.put(f.get(url).body)
    except FetchError as exc:
        out.put(repr(exc))


def test_fetcher_survives_fork_without_sharing_sockets(srv: LocalHTTPServer) -> None:
    """Celery prefork: a Fetcher made before the fork must work in the child on fresh sockets
    (and its deadline watchdog must run there)."""
    srv.route("/forked", Reply(200, {}, b"child"))
    ctx = multiprocessing.get_context("fork")
    with Fetcher(FetchPolicy(allow_private_networks=True, deadline_seconds=5)) as f:
        f.get(srv.url("/forked"))  # the parent now has a pooled connection
        out = ctx.Queue()
        child = ctx.Process(target=_child_poll, args=(f, srv.url("/forked"), out))
        child.start()
        got = out.get(timeout=10)
        child.join(10)
        f.get(srv.url("/forked"))  # the parent's connection still works
    assert got == b"child"
    ports = [h.client_port for h in srv.hits if h.path == "/forked"]
    assert len(ports) == 3 and ports[0] == ports[2] != ports[1]
