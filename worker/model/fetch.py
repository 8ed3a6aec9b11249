"""What an HTTP fetch hands back, the error every fetch failure is, and the fetcher's shape.

The stages that fetch (polling feeds, fetching article pages) take any object with this
``get``; the one real fetcher is ``worker.http`` (SSRF guard, per-host limits)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class FetchError(Exception):
    """Base of every fetch failure; ``reason`` is a short machine code for logs and tables."""

    reason: str = "fetch_error"

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)


ARTICLE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.8"


@dataclass(frozen=True)
class FetchResult:
    """One completed HTTP exchange. Any status is a result, not an error."""

    requested_url: str
    final_url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # lower-cased names
    body: bytes  # decoded content (gzip/deflate/br undone), b"" for 304
    etag: str | None
    last_modified: str | None
    elapsed_seconds: float
    redirects: tuple[tuple[int, str], ...] = ()  # (status, location) per hop
    permanent_redirect: str | None = None  # target if every hop was 301/308
    encoded_bytes: int | None = field(default=None)  # body bytes on the wire when known

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("content-type")
        if not value:
            return None
        media = value.split(";", 1)[0].strip().lower()
        return media or None

    @property
    def charset(self) -> str | None:
        value = self.headers.get("content-type")
        if not value:
            return None
        for param in value.split(";")[1:]:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "charset":
                cs = raw.strip().strip("'\"").strip()
                return cs.lower() or None
        return None


class HttpFetcher(Protocol):
    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        user_agent: str | None = None,
        accept: str | None = None,
    ) -> FetchResult: ...
