"""The one place that decides what an address means.

Two addresses that point at the same article must compare equal after
:func:`canonical_url`; everything that stores, looks up or deduplicates by
address goes through it. :func:`identity_url` goes one step further and also
forgets the scheme, so that an entry whose link moved from ``http`` to
``https`` is still the same entry.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

# Query parameters that only track the reader; they never change the page.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "cmpid",
        "ocid",
        "smid",
        "sr_share",
        "ito",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "at_medium",
        "at_campaign",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "rss",
        "ref_src",
        "spm",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hmb_", "at_", "__twitter", "_hs")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_MULTI_SLASH = re.compile(r"/{2,}")


class InvalidURL(ValueError):
    """An address that is not an absolute http(s) URL."""


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def _normalise_path(path: str) -> str:
    if not path:
        return "/"
    # Re-quote so that %7E and ~ compare equal while reserved characters stay escaped.
    path = quote(unquote(path), safe="/:@!$&'()*+,;=-._~%")
    path = _MULTI_SLASH.sub("/", path)
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(segments) > 1:
                segments.pop()
        elif segment != ".":
            segments.append(segment)
    normalised = "/".join(segments)
    return normalised if normalised.startswith("/") else "/" + normalised


def canonical_url(url: str, base: str | None = None) -> str:
    """Return the canonical form of an http(s) address.

    Lower-cases scheme and host, drops default ports, fragments, user info and
    tracking parameters, sorts the remaining query, resolves dot segments.
    Raises :class:`InvalidURL` for anything that is not absolute http(s).
    """
    raw = (url or "").strip()
    if base:
        raw = urljoin(base, raw)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"not a valid URL: {url!r}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL(f"only http and https addresses are accepted, got {url!r}")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidURL(f"address has no host: {url!r}")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as exc:
        raise InvalidURL(f"address has an invalid host name: {url!r}") from exc
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query_items = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking_param(k)]
    query_items.sort()
    query = urlencode(query_items, doseq=True)
    return urlunsplit((scheme, netloc, _normalise_path(parts.path), query, ""))


@lru_cache(maxsize=4096)
def identity_url(url: str, base: str | None = None) -> str:
    """Canonical address without its scheme and trailing slash: the key for "same entry".

    Memoised (a pure function of its arguments): one article's address is keyed three to four
    times between its ingest's start and its store."""
    canonical = canonical_url(url, base)
    without_scheme = canonical.split("://", 1)[1]
    if without_scheme.startswith("www."):
        without_scheme = without_scheme[4:]
    path_end = without_scheme.find("?")
    if path_end == -1:
        return without_scheme.rstrip("/") or without_scheme
    return without_scheme[:path_end].rstrip("/") + without_scheme[path_end:]


def host_of(url: str) -> str:
    """Lower-cased host name of an address (empty string if there is none)."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


def site_of(url: str) -> str:
    """Host without a leading ``www.``: good enough to tell "the same site"."""
    host = host_of(url)
    return host[4:] if host.startswith("www.") else host
