"""Which network addresses newsworker may connect to, decided in one place.

Feed and article addresses come from strangers, so every address is checked
after resolution (and again at each redirect hop by the fetcher): only
globally reachable unicast addresses are allowed unless the operator lifts
the block. The tables are explicit rather than borrowed from
``ipaddress.is_global`` so that the policy does not change with the Python
version (3.11 treats multicast as "global", for instance).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from urllib3.util.connection import allowed_gai_family

from worker.model.fetch import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> ip strings``; swapped in by tests to give names to local servers."""


class BlockedAddress(FetchError):
    """The address resolves to (or is) a non-public network address."""

    reason = "blocked_address"


class InvalidAddress(FetchError):
    """Not an http(s) URL we can fetch (other scheme, no host, garbage)."""

    reason = "invalid_url"


class ConnectFailed(FetchError):
    """DNS failure, refused connection, TLS error or connect/read timeout."""

    reason = "connect"

    def __init__(self, message: str, *, url: str | None = None, reason: str = "connect") -> None:
        super().__init__(message, url=url)
        self.reason = reason


def _nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# IANA special-purpose IPv4 ranges that are not globally reachable unicast.
_BLOCKED_V4 = _nets(
    "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
    "10.0.0.0/8",
    "100.64.0.0/10",  # carrier-grade NAT
    "127.0.0.0/8",
    "169.254.0.0/16",  # link-local, cloud metadata 169.254.169.254
    "172.16.0.0/12",
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # TEST-NET-1
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # TEST-NET-2
    "203.0.113.0/24",  # TEST-NET-3
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, includes 255.255.255.255
)

# Only global unicast (2000::/3) is public; inside it these are not.
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_BLOCKED_V6 = _nets(
    "2001::/23",  # IETF protocol assignments (Teredo 2001::/32 is judged by its client)
    "2001:db8::/32",  # documentation
    "2002::/16",  # 6to4 (judged by the embedded IPv4 address)
    "3fff::/20",  # documentation
)
_TEREDO = ipaddress.IPv6Network("2001::/32")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def is_public_address(ip: IPAddress) -> bool:
    """True only for globally reachable unicast addresses.

    IPv4-mapped (``::ffff:a.b.c.d``) addresses are judged as the IPv4 address
    they carry; IPv4-compatible (``::a.b.c.d``) and NAT64 (``64:ff9b::/96``)
    are outside 2000::/3 and so always refused; 6to4 and Teredo are allowed
    only when the IPv4 address they embed is public.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return not any(ip in net for net in _BLOCKED_V4)
    mapped = ip.ipv4_mapped
    if mapped is not None:
        return is_public_address(mapped)
    if ip not in _GLOBAL_UNICAST_V6:
        return False
    if ip in _SIX_TO_FOUR:
        embedded = ip.sixtofour
        return embedded is not None and is_public_address(embedded)
    if ip in _TEREDO:
        teredo = ip.teredo
        return teredo is not None and all(is_public_address(v4) for v4 in teredo)
    return not any(ip in net for net in _BLOCKED_V6)


def _parse_ipv4_number(part: str) -> int | None:
    """One part of a WHATWG-style IPv4 host: decimal, ``0x`` hex or leading-zero octal."""
    if not part:
        return None
    base = 10
    digits = part
    if len(part) >= 2 and part[:2].lower() == "0x":
        base, digits = 16, part[2:]
        if not digits:
            return 0
    elif len(part) >= 2 and part[0] == "0":
        base, digits = 8, part[1:]
    allowed = {10: "0123456789", 8: "01234567", 16: "0123456789abcdefABCDEF"}[base]
    if not all(c in allowed for c in digits):
        return None
    return int(digits, base)


def _parse_odd_ipv4(host: str) -> ipaddress.IPv4Address | None:
    parts = host.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts = parts[:-1]  # one trailing dot is allowed, as browsers do
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _parse_ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    # All but the last part are single bytes; the last fills the remaining bytes.
    if any(n > 255 for n in numbers[:-1]):
        return None
    if numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def parse_host_literal(host: str) -> IPAddress | None:
    """The IP address a URL host spells, in any of the forms resolvers accept, or None for a name.

    Handles ``[v6]``, dotted quads and the legacy ``inet_aton`` spellings that
    browsers and libc still accept (``127.1``, ``2130706433``, ``0x7f000001``,
    ``0177.0.0.1``), so a literal is judged without asking DNS.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if "%" in text:  # IPv6 zone id: never public, but parse what precedes it
        text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if ":" in text:
        return None
    return _parse_odd_ipv4(text)


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse an allow-list such as ``("10.1.2.0/24",)``; raises ValueError on garbage."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def system_resolver(host: str, port: int) -> list[str]:
    """All stream addresses the system resolver gives for ``host``, in its order."""
    infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    out: list[str] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            addr = str(sockaddr[0])
            if addr not in out:
                out.append(addr)
    return out


# getaddrinfo's "this name does not exist" answers (as opposed to EAI_AGAIN, try later).
_NO_SUCH_NAME = frozenset(
    code for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None)) if code is not None
)


class CachingResolver:
    """Remembers answers of ``inner`` for ``ttl`` seconds (LRU-bounded).

    Safe against rebinding because the fetcher connects to the very address
    it checked, cached or not; the cache only saves a DNS round trip per poll
    when thousands of feeds share a few hosts. A name that does not exist is
    remembered for ``negative_ttl`` seconds too (hundreds of articles on a dead
    host would otherwise each wait for the resolver); temporary failures are not.
    """

    def __init__(
        self,
        inner: Resolver = system_resolver,
        *,
        ttl: float = 60.0,
        negative_ttl: float = 30.0,
        maxsize: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._missing: OrderedDict[tuple[str, int], tuple[float, socket.gaierror]] = OrderedDict()
        self._maxsize = maxsize
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int], tuple[float, tuple[str, ...]]] = OrderedDict()

    def __call__(self, host: str, port: int) -> Sequence[str]:
        key = (host.lower(), port)
        now = self._clock()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > now:
                self._entries.move_to_end(key)
                return hit[1]
            missing = self._missing.get(key)
            if missing is not None and missing[0] > now:
                raise missing[1]
        try:
            answer = tuple(self._inner(host, port))
        except socket.gaierror as exc:
            if exc.errno in _NO_SUCH_NAME and self._negative_ttl > 0:
                with self._lock:
                    self._missing[key] = (now + self._negative_ttl, exc)
                    while len(self._missing) > self._maxsize:
                        self._missing.popitem(last=False)
            raise
        with self._lock:
            self._entries[key] = (now + self._ttl, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
        return answer


def is_allowed(ip: IPAddress, *, allow_private: bool, allowed_networks: Sequence[IPNetwork] = ()) -> bool:
    """The whole policy: public, or private networks allowed, or in an explicit allow-list."""
    if allow_private or is_public_address(ip):
        return True
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(c.version == net.version and c in net for c in candidates for net in allowed_networks)


def resolve_public(
    host: str,
    port: int,
    allow_private: bool,
    *,
    allowed_networks: Sequence[IPNetwork] = (),
    resolver: Resolver | None = None,
) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses, refusing the host if ANY address is not allowed.

    Refusing on any bad address (rather than filtering) closes the trick of a
    name that answers with both a public and an internal address.
    Raises :class:`BlockedAddress`, or :class:`ConnectFailed` (reason ``dns``)
    when the name does not resolve.
    """
    literal = parse_host_literal(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        lookup = resolver or system_resolver
        try:
            raw = lookup(host, port)
        except (OSError, UnicodeError) as exc:
            raise ConnectFailed(f"cannot resolve {host!r}: {exc}", reason="dns") from exc
        addresses = []
        for text in raw:
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
            except ValueError as exc:
                raise ConnectFailed(f"resolver gave a non-address {text!r}", reason="dns") from exc
        if not addresses:
            raise ConnectFailed(f"{host!r} has no addresses", reason="dns")
    for ip in addresses:
        if not is_allowed(ip, allow_private=allow_private, allowed_networks=allowed_networks):
            raise BlockedAddress(f"{host!r} resolves to non-public address {ip}")
    return addresses
