"""The one HTTP fetcher for feeds and articles: SSRF-safe, capped, deadline-bound.

Everything newsworker downloads goes through :class:`Fetcher`. It

* accepts only http/https and refuses non-public addresses (policy in
  :mod:`worker.http.netguard`), checking the address actually connected to: the
  transport adapter resolves and checks the host itself and connects to that
  very IP, so there is no DNS-rebinding window; redirects are followed by
  hand so every hop is checked again;
* counts the body AFTER decompression against a cap, reading in bounded
  chunks (never ``.content``), so a gzip bomb costs at most one chunk beyond
  the cap;
* enforces a wall-clock deadline over the whole exchange including
  redirects, because ``requests``' timeouts are per socket read and a
  trickling server would otherwise hold a worker for hours;
* turns HTTP statuses into results and only transport trouble into
  :class:`FetchError` subclasses with a short ``reason`` code.
"""

from __future__ import annotations

import heapq
import http.cookiejar
import os
import socket
import threading
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
import urllib3.response
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_ACCEPT_ENCODING

from worker.http.netguard import (
    BlockedAddress,
    CachingResolver,
    ConnectFailed,
    InvalidAddress,
    IPAddress,
    IPNetwork,
    Resolver,
    parse_networks,
    resolve_public,
    system_resolver,
)
from worker.model.fetch import ARTICLE_ACCEPT, FEED_ACCEPT, FetchError, FetchResult

__all__ = [
    "ARTICLE_ACCEPT",
    "FEED_ACCEPT",
    "BadResponse",
    "BlockedAddress",
    "ConnectFailed",
    "DeadlineExceeded",
    "FetchError",
    "FetchPolicy",
    "FetchResult",
    "Fetcher",
    "InvalidAddress",
    "ResponseTooLarge",
    "TooManyRedirects",
]


_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
_CHUNK = 64 * 1024


class ResponseTooLarge(FetchError):
    """The decoded body exceeded ``FetchPolicy.max_body_bytes``."""

    reason = "too_large"


class DeadlineExceeded(FetchError):
    """The whole exchange (all hops, headers and body) outlasted ``deadline_seconds``."""

    reason = "deadline"


class TooManyRedirects(FetchError):
    """More than ``max_redirects`` hops (a redirect without Location is returned as a result)."""

    reason = "too_many_redirects"


class BadResponse(FetchError):
    """The server broke HTTP: truncated body, corrupt compression, malformed framing."""

    reason = "bad_response"


@dataclass(frozen=True)
class FetchPolicy:
    """How careful the fetcher is; defaults are the production values."""

    allow_private_networks: bool = False
    max_body_bytes: int = 15 * 1024 * 1024  # counted AFTER decompression
    deadline_seconds: float = 30.0  # wall clock for the whole response incl. redirects
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    max_redirects: int = 5
    user_agent: str = "newsworker/0.1 (+https://github.com/newsworker/newsworker)"
    # Non-public networks allowed despite ``allow_private_networks=False``
    # (a specific intranet feed server; tests use 127.0.0.2/32). CIDR strings.
    allowed_networks: tuple[str, ...] = ()
    pool_connections: int = 16  # distinct hosts kept in the pool
    pool_maxsize: int = 8  # connections kept per host
    # Resolved (and checked) addresses are reused this long; 0 resolves on every request.
    dns_cache_seconds: float = 60.0
    # PEM bundle of extra trusted CAs (intranet feeds, tests); None = the system/certifi store.
    ca_bundle: str | None = None


def _freeze_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    return types.MappingProxyType({k.lower(): v for k, v in headers.items()})


class _Pinned(threading.local):
    """Per-thread: the address the adapter checked (for logs), and which one to try.

    ``attempt`` selects among the checked addresses (IPv4 first) so the fetcher
    can fall back to the next one when connecting fails, e.g. an AAAA record
    in a container without IPv6 routing.
    """

    last_ip: IPAddress | None = None
    attempt: int = 0
    candidates: int = 1


class _Guard:
    """The deadline of one ``Fetcher.get`` and the sockets it is reading from.

    ``requests`` timeouts apply per socket read, so a server trickling TLS
    handshake, header or body bytes is never "timed out". When the deadline
    passes, the watchdog shuts the watched sockets down, which makes the
    blocked read return at once; the fetcher then reports
    :class:`DeadlineExceeded`. The guard keeps its own duplicate of each
    descriptor, because TLS wrapping detaches the original socket object.
    """

    __slots__ = ("_done", "_lock", "deadline", "fired", "sockets")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self.sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = False

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._done:
                return
            try:
                dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
            except OSError:  # already closed: nothing to cut off
                return
            if self.fired:
                _shutdown(dup)
            self.sockets.append(dup)

    def fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            for sock in self.sockets:
                _shutdown(sock)

    def disarm(self) -> None:
        with self._lock:
            self._done = True
            for sock in self.sockets:
                sock.close()
            self.sockets.clear()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return  # not connected (any more): nothing to interrupt


class _Watchdog:
    """One daemon thread per process firing guards whose deadline has passed."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Guard]] = []
        self._seq = 0
        self._thread: threading.Thread | None = None

    def arm(self, guard: _Guard) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="newsworker-fetch-deadline", daemon=True)
                self._thread.start()
            self._seq += 1
            heapq.heappush(self._heap, (guard.deadline, self._seq, guard))
            if self._heap[0][2] is guard:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, _, guard = self._heap[0]
                now = time.monotonic()
                if deadline > now:
                    self._cond.wait(deadline - now)
                    continue
                heapq.heappop(self._heap)
            guard.fire()


_WATCHDOG = _Watchdog()


def _new_watchdog_after_fork() -> None:
    # A forked child (Celery prefork) has no watchdog thread and maybe a lock
    # copied mid-use: start afresh.
    global _WATCHDOG
    _WATCHDOG = _Watchdog()


os.register_at_fork(after_in_child=_new_watchdog_after_fork)
_CURRENT = threading.local()


def _current_guard() -> _Guard | None:
    guard = getattr(_CURRENT, "guard", None)
    return guard if isinstance(guard, _Guard) else None


def _watch_current(sock: socket.socket | None) -> None:
    guard = _current_guard()
    if guard is not None and sock is not None:
        guard.watch(sock)


class _GuardedHTTPConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        # From the first byte. (CPython already bounds a TLS handshake by the connect
        # timeout; this keeps the deadline authoritative whatever the stack does.)
        _watch_current(sock)
        return sock

    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        _watch_current(self.sock)  # a pooled connection reused by this request
        return super().getresponse()


class _GuardedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch_current(sock)
        return sock

    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        _watch_current(self.sock)
        return super().getresponse()


class _GuardedHTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _PinnedAdapter(HTTPAdapter):
    """Resolves and checks the host itself, then connects to exactly that IP.

    The pool key uses the checked IP as host, while the ``Host`` header, TLS
    SNI and certificate verification keep the name from the URL. Checking
    here (and not only before ``send``) is what closes the rebinding window:
    urllib3 never resolves the name again.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        allowed_networks: tuple[IPNetwork, ...],
        resolver: Resolver | None,
        pool_connections: int,
        pool_maxsize: int,
    ) -> None:
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0)
        self._allow_private = allow_private
        self._allowed_networks = allowed_networks
        self._resolver = resolver
        self.pinned = _Pinned()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        cert: Any = None,
    ) -> Any:
        base_params, base_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params = cast(dict[str, Any], base_params)
        pool_kwargs = cast(dict[str, Any], base_kwargs)
        scheme = str(host_params["scheme"]).lower()
        hostname = str(host_params["host"])
        port = host_params["port"]
        effective_port = int(port) if port is not None else (443 if scheme == "https" else 80)
        addresses = resolve_public(
            hostname,
            effective_port,
            self._allow_private,
            allowed_networks=self._allowed_networks,
            resolver=self._resolver,
        )
        ordered = sorted(addresses, key=lambda a: a.version)  # stable: IPv4 first
        self.pinned.candidates = len(ordered)
        ip = ordered[min(self.pinned.attempt, len(ordered) - 1)]
        self.pinned.last_ip = ip

        host_header = f"[{hostname}]" if ":" in hostname else hostname
        if port is not None:
            host_header += f":{port}"
        headers = requests.structures.CaseInsensitiveDict(request.headers or {})
        headers["Host"] = host_header
        request.headers = headers
        if scheme == "https":
            pool_kwargs["assert_hostname"] = hostname
            pool_kwargs["server_hostname"] = hostname
        host_params["host"] = f"[{ip}]" if ip.version == 6 else str(ip)
        return host_params, pool_kwargs


def _check_url(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise InvalidAddress(f"unparseable URL {url!r}: {exc}", url=url) from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidAddress(f"only http and https are fetched, not {url!r}", url=url)
    try:
        host = parts.hostname
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidAddress(f"bad host or port in {url!r}: {exc}", url=url) from exc
    if not host:
        raise InvalidAddress(f"no host in {url!r}", url=url)
    if parts.username is not None or parts.password is not None:
        raise InvalidAddress(f"credentials in URLs are not fetched: {url!r}", url=url)
    return url.strip()


def _default_resolver(policy: FetchPolicy) -> Resolver:
    if policy.dns_cache_seconds > 0:
        return CachingResolver(system_resolver, ttl=policy.dns_cache_seconds)
    return system_resolver


class Fetcher:
    """One per worker process (it owns a pooled ``requests.Session``); thread-safe for ``get``."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        session: requests.Session | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.policy = policy
        self._session = session or requests.Session()
        # requests scans the environment for proxies on every call otherwise;
        # a proxy would also defeat the address check.
        self._session.trust_env = False
        self._session.proxies = {}
        # The poller is stateless: cookies would only leak state between polls.
        self._session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._adapter = _PinnedAdapter(
            allow_private=policy.allow_private_networks,
            allowed_networks=parse_networks(policy.allowed_networks),
            resolver=_default_resolver(policy) if resolver is None else resolver,
            pool_connections=policy.pool_connections,
            pool_maxsize=policy.pool_maxsize,
        )
        self._session.mount("http://", self._adapter)
        self._session.mount("https://", self._adapter)
        self._pid = os.getpid()

    @property
    def last_connected_ip(self) -> IPAddress | None:
        """The address this thread's last request was pinned to (for logs and tests)."""
        return self._adapter.pinned.last_ip

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        user_agent: str | None = None,
        accept: str | None = None,
        before_hop: Callable[[str], None] | None = None,
    ) -> FetchResult:
        """GET ``url``, following up to ``max_redirects`` hops; raises FetchError subclasses.

        ``before_hop`` is called with each redirect target (already checked) before it is
        requested: the caller's per-host limits apply to every host a request reaches."""
        policy = self.policy
        started = time.monotonic()
        if self._pid != os.getpid():
            # Created before a fork: never share the parent's pooled sockets.
            self._adapter.poolmanager.clear()
            self._pid = os.getpid()
        requested = _check_url(url)
        headers = {
            "User-Agent": user_agent or policy.user_agent,
            "Accept": accept or "*/*",
            "Accept-Encoding": DEFAULT_ACCEPT_ENCODING,
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified

        guard = _Guard(started + policy.deadline_seconds)
        outer = getattr(_CURRENT, "guard", None)
        _CURRENT.guard = guard
        _WATCHDOG.arm(guard)
        try:
            return self._exchange(requested, headers, guard, started, before_hop)
        finally:
            guard.disarm()
            _CURRENT.guard = outer

    def _exchange(
        self,
        requested: str,
        headers: Mapping[str, str],
        guard: _Guard,
        started: float,
        before_hop: Callable[[str], None] | None = None,
    ) -> FetchResult:
        policy = self.policy
        current = requested
        hops: list[tuple[int, str]] = []
        while True:
            response = self._send(current, headers, guard)
            status = response.status_code
            location = response.headers.get("Location")
            if status in _REDIRECT_STATUSES and location:
                _recycle(response, guard)
                target = urljoin(current, location.strip())
                hops.append((status, target))
                if len(hops) > policy.max_redirects:
                    raise TooManyRedirects(
                        f"more than {policy.max_redirects} redirects from {requested}",
                        url=requested,
                    )
                current = _check_url(target)
                if before_hop is not None:
                    before_hop(current)
                continue
            try:
                body, wire = self._read_body(response, current, guard)
            except BaseException:
                response.close()  # half-read: the connection cannot be reused
                raise
            response.raw.release_conn()  # fully read: back to the pool for the next poll
            break

        resp_headers = _freeze_headers(response.headers)
        permanent = current if hops and all(s in _PERMANENT_REDIRECTS for s, _ in hops) else None
        return FetchResult(
            requested_url=requested,
            final_url=current,
            status=status,
            headers=resp_headers,
            body=body,
            etag=resp_headers.get("etag"),
            last_modified=resp_headers.get("last-modified"),
            elapsed_seconds=time.monotonic() - started,
            redirects=tuple(hops),
            permanent_redirect=permanent,
            encoded_bytes=wire,
        )

    def _deadline_error(self, url: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{url}: no complete response within the {self.policy.deadline_seconds}s deadline",
            url=url,
        )

    def post(self, url: str, body: bytes, *, headers: Mapping[str, str]) -> int:
        """POST ``body`` (webhooks) under the same address checks, timeouts and deadline as
        :meth:`get`; a redirect is not followed. Returns the status; raises FetchError subclasses."""
        if self._pid != os.getpid():
            self._adapter.poolmanager.clear()
            self._pid = os.getpid()
        requested = _check_url(url)
        guard = _Guard(time.monotonic() + self.policy.deadline_seconds)
        outer = getattr(_CURRENT, "guard", None)
        _CURRENT.guard = guard
        _WATCHDOG.arm(guard)
        try:
            response = self._send(
                requested, {"User-Agent": self.policy.user_agent, **headers}, guard, method="POST", data=body
            )
            status = int(response.status_code)
            response.close()
            return status
        finally:
            guard.disarm()
            _CURRENT.guard = outer

    def _send(
        self, url: str, headers: Mapping[str, str], guard: _Guard, *, method: str = "GET", data: bytes | None = None
    ) -> requests.Response:
        pinned = self._adapter.pinned
        pinned.attempt = 0
        try:
            while True:
                remaining = guard.deadline - time.monotonic()
                if remaining <= 0:
                    raise self._deadline_error(url)
                timeout = (
                    min(self.policy.connect_timeout, remaining),
                    min(self.policy.read_timeout, remaining),
                )
                try:
                    prepared = self._session.prepare_request(
                        requests.Request(method, url, headers=dict(headers), data=data)
                    )
                    return self._session.send(
                        prepared,
                        stream=True,
                        allow_redirects=False,
                        timeout=timeout,
                        verify=self.policy.ca_bundle or True,
                    )
                except FetchError as exc:
                    exc.url = exc.url or url
                    raise
                except requests.exceptions.RequestException as exc:
                    if guard.fired or time.monotonic() >= guard.deadline:
                        raise self._deadline_error(url) from exc
                    if _never_connected(exc) and pinned.attempt + 1 < min(pinned.candidates, 3):
                        pinned.attempt += 1  # try the host's next checked address
                        continue
                    raise _translate(exc, url) from exc
        finally:
            pinned.attempt = 0

    def _read_body(self, response: requests.Response, url: str, guard: _Guard) -> tuple[bytes, int | None]:
        cap = self.policy.max_body_bytes
        raw = response.raw
        encoded = response.headers.get("Content-Encoding", "").strip().lower()
        length_header = response.headers.get("Content-Length", "").strip()
        if length_header.isdigit() and encoded in ("", "identity") and int(length_header) > cap:
            raise ResponseTooLarge(f"{url} announces {length_header} bytes, cap is {cap}", url=url)
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                if guard.fired or time.monotonic() >= guard.deadline:
                    raise self._deadline_error(url)
                # read1 returns what one socket read gives (decoded, at most the
                # asked size), so memory stays bounded and the deadline is checked
                # between reads instead of after a whole chunk trickled in.
                chunk = raw.read1(min(_CHUNK, cap - total + 1), decode_content=True)
                if not chunk:
                    break
                total += len(chunk)
                if total > cap:
                    raise ResponseTooLarge(f"{url} body exceeds {cap} bytes after decoding", url=url)
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if guard.fired or time.monotonic() >= guard.deadline:
                raise self._deadline_error(url) from exc
            if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
                raise ConnectFailed(f"read timeout from {url}", url=url, reason="timeout") from exc
            if isinstance(exc, urllib3.exceptions.DecodeError):
                raise BadResponse(f"corrupt {encoded} encoding from {url}", url=url) from exc
            raise BadResponse(f"broken response from {url}: {exc}", url=url) from exc
        if guard.fired:
            # The watchdog cut the connection: an "end" seen now may be a truncation.
            raise self._deadline_error(url)
        wire = raw.tell() if hasattr(raw, "tell") else None
        return b"".join(chunks), wire


def _recycle(response: requests.Response, guard: _Guard, limit: int = _CHUNK) -> None:
    """Drain a small unwanted body (redirects) so its connection returns to the pool.

    Closing a half-read response would close the socket and cost a new TCP
    (and TLS) handshake on the next hop; a body larger than ``limit`` is not
    worth reading, so that connection is dropped instead.
    """
    raw = response.raw
    drained = 0
    try:
        while drained <= limit and not guard.fired:
            chunk = raw.read1(limit, decode_content=False)
            if not chunk:
                raw.release_conn()
                return
            drained += len(chunk)
    except (urllib3.exceptions.HTTPError, OSError):
        # A broken redirect body only means the connection is not reused.
        response.close()
        return
    response.close()


def _never_connected(exc: requests.exceptions.RequestException) -> bool:
    """True when no TCP connection was made, so trying another address is safe."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, urllib3.exceptions.NewConnectionError):
            return True
        if isinstance(cause, urllib3.exceptions.MaxRetryError) and cause.reason is not None:
            cause = cause.reason
            continue
        cause = cause.__context__ if cause.__cause__ is None else cause.__cause__
    return False


def _translate(exc: requests.exceptions.RequestException, url: str) -> FetchError:
    """Map a requests failure before the body to our reason codes."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ConnectFailed(f"connect timeout to {url}", url=url, reason="timeout")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return ConnectFailed(f"no response from {url} in time", url=url, reason="timeout")
    if isinstance(exc, requests.exceptions.SSLError):
        return ConnectFailed(f"TLS failure for {url}: {exc}", url=url, reason="tls")
    if isinstance(
        exc,
        requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema | requests.exceptions.MissingSchema,
    ):
        return InvalidAddress(f"invalid URL {url!r}: {exc}", url=url)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return ConnectFailed(f"cannot connect to {url}: {exc}", url=url)
    return BadResponse(f"bad response from {url}: {exc}", url=url)
