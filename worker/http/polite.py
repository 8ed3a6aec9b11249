"""The one fetcher as every unit of work uses it: under the per-host limits all workers share."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime

from worker.http.fetch import Fetcher
from worker.http.hostlimits import HostLimits
from worker.model.fetch import FetchResult
from worker.model.urls import host_of


@dataclass
class PoliteFetcher:
    """The one fetcher, under the per-host limits every worker shares.

    A host that is at its limit raises :class:`HostBusy` at once (after a short
    wait) so the task is retried later instead of holding a worker process.
    """

    fetcher: Fetcher
    limiter: HostLimits | None
    wait_seconds: float = 5.0

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        user_agent: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        if self.limiter is None:
            return self.fetcher.get(url, etag=etag, last_modified=last_modified, user_agent=user_agent, accept=accept)
        limiter = self.limiter
        with ExitStack() as held:
            first = host_of(url)
            held.enter_context(limiter.acquire(first, timeout=self.wait_seconds))
            hosts = {first}

            def gate(hop: str) -> None:
                # A redirector (feed proxy, link shortener) hands us on to the publisher:
                # the publisher's limits and slow-down apply to that hop too.
                host = host_of(hop)
                if host not in hosts:
                    hosts.add(host)
                    held.enter_context(limiter.acquire(host, timeout=self.wait_seconds))

            return self.fetcher.get(
                url, etag=etag, last_modified=last_modified, user_agent=user_agent, accept=accept, before_hop=gate
            )

    def slow_down(self, url: str, until: datetime) -> None:
        if self.limiter is not None:
            self.limiter.penalize_until(host_of(url), until)

    def close(self) -> None:
        self.fetcher.close()
