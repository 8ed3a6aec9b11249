"""A local news web for the throughput benchmarks: real article pages behind generated feeds.

Pages are the real article pages of the extraction sets in ``/work/shared/data/extraction``
(the article-extraction benchmark's 181 pages, then the article pages of the web content
extraction benchmark's test split), in their own page chrome. They are spread over ``hosts``
publisher sites, each on its own loopback address (127.0.0.2, 127.0.0.3, ...; every address in
127.0.0.0/8 is this machine), so the per-host limits work as on the internet. On top:

- a syndicated copy of every ``syndicate``-th page on another site (same article, another
  address, a "syndicated from" banner): the duplicates dedupe must catch;
- each site's feeds (RSS 2.0, ``entries_per_feed`` items: link, guid, title, a short
  description) with ``ETag``: a second poll answers 304 Not Modified;
- failing feeds (HTTP 500, HTTP 404, a broken XML document), and a few feed entries whose
  page is missing (HTTP 404: the article is stored from the feed's description);
- ``latency`` seconds added to every response (a sleep: no CPU), to stand for the internet.

``python -m bench.site serve --latency 0.2`` builds it in memory and serves it until killed,
printing one JSON line: the feed addresses, page count, duplicate count, port.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

DATA = Path("/work/shared/data/extraction")


@dataclass(frozen=True)
class Page:
    path: str  # original address's path, kept (dates and slugs are evidence)
    html: bytes
    title: str
    summary: str


def load_pages(limit: int | None = None) -> list[Page]:
    """Real article pages: the article-extraction benchmark, then the WCXB article pages."""
    pages: list[Page] = []
    aeb = DATA / "aeb"
    truth = json.loads((aeb / "ground-truth.json").read_text())
    for key in sorted(truth):
        item = truth[key]
        html = gzip.decompress((aeb / "html" / f"{key}.html.gz").read_bytes())
        pages.append(Page(_path_of(item.get("url") or key, len(pages)), html, "", item.get("articleBody", "")[:300]))
    wcxb = DATA / "wcxb-test"
    for gt in sorted((wcxb / "ground-truth").glob("*.json")):
        meta = json.loads(gt.read_text())
        if meta.get("_internal", {}).get("page_type", {}).get("primary") != "article":
            continue
        truth_item = meta.get("ground_truth", {})
        html = gzip.decompress((wcxb / "html" / f"{gt.stem}.html.gz").read_bytes())
        pages.append(
            Page(
                _path_of(meta.get("url") or gt.stem, len(pages)),
                html,
                truth_item.get("title") or "",
                (truth_item.get("main_content") or "")[:300],
            )
        )
    return pages[:limit] if limit is not None else pages


def _path_of(url: str, n: int) -> str:
    path = re.sub(r"^[a-z]+://[^/]+", "", url)
    path = re.sub(r"[^A-Za-z0-9._/-]", "_", path.split("?")[0]).strip("/")[:200] or "index"
    return f"/a{n}/{path}"


@dataclass(frozen=True)
class Derived:
    """A page body made on request from a shared one (an edition, a syndicated copy), so a
    long run's 50,000 pages do not hold 50,000 copies of the same bytes in memory."""

    source: bytes | Derived
    edition: int | None = None
    banner: bytes | None = None

    def render(self) -> bytes:
        html = self.source if isinstance(self.source, bytes) else self.source.render()
        if self.edition is not None:
            html = html.replace(b"</body>", f"<p>Edition {self.edition}</p></body>".encode())
        if self.banner is not None:
            html = re.sub(rb"(<body[^>]*>)", rb"\1" + self.banner, html, count=1, flags=re.I)
        return html


Body = bytes | Derived


def body_bytes(body: Body) -> bytes:
    return body if isinstance(body, bytes) else body.render()


@dataclass
class Site:
    """Everything served, by (address, path)."""

    port: int
    hosts: list[str]
    routes: dict[tuple[str, str], tuple[int, str, Body]] = field(default_factory=dict)
    feeds: list[str] = field(default_factory=list)
    failing_feeds: list[str] = field(default_factory=list)
    articles: int = 0  # distinct article pages (originals)
    copies: int = 0  # syndicated copies
    missing_pages: int = 0  # feed entries whose page answers 404

    def manifest(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "hosts": self.hosts,
            "feeds": self.feeds,
            "failing_feeds": self.failing_feeds,
            "articles": self.articles,
            "copies": self.copies,
            "missing_pages": self.missing_pages,
            "entries": self.articles + self.copies + self.missing_pages,
        }


def build(
    pages: list[Page],
    *,
    port: int,
    hosts: int = 16,
    entries_per_feed: int = 25,
    syndicate: int = 2,
    missing_every: int = 40,
    repeat: int = 1,
) -> Site:
    """``repeat`` > 1: every page is published that many times, under other addresses (an
    edition number in the path and the page), for long runs (the memory benchmark)."""
    addresses = [f"127.0.0.{i + 2}" for i in range(hosts)]
    site = Site(port, addresses)
    per_host: dict[str, list[tuple[str, Page]]] = {a: [] for a in addresses}
    editions: list[tuple[Page, Body]] = [(page, page.html) for page in pages]
    if repeat > 1:
        editions = [
            (Page(f"/e{r}{page.path}", page.html, page.title, page.summary), Derived(page.html, edition=r))
            for r in range(repeat)
            for page in pages
        ]
    for n, (page, body) in enumerate(editions):
        host = addresses[n % hosts]
        url = f"http://{host}:{port}{page.path}"
        site.routes[(host, page.path)] = (200, "text/html; charset=utf-8", body)
        per_host[host].append((url, page))
        site.articles += 1
        if syndicate and n % syndicate == 0:
            other = addresses[(n + hosts // 2 + 1) % hosts]
            path = f"/syndicated{page.path}"
            banner = f'<div class="syndication">Syndicated from {escape(host)}</div>'.encode()
            copy: Body = Derived(body, banner=banner)
            if isinstance(body, bytes):  # a one-edition site keeps plain bytes (bench.throughput reads them)
                copy = body_bytes(copy)
            site.routes[(other, path)] = (200, "text/html; charset=utf-8", copy)
            per_host[other].append((f"http://{other}:{port}{path}", page))
            site.copies += 1
        if missing_every and n % missing_every == missing_every - 1:
            path = f"/gone{page.path}"  # not routed: 404
            per_host[host].append((f"http://{host}:{port}{path}", page))
            site.missing_pages += 1
    for host, items in per_host.items():
        for k in range(0, len(items), entries_per_feed):
            path = f"/feeds/{k // entries_per_feed}.rss"
            body = _rss(f"http://{host}:{port}/", items[k : k + entries_per_feed])
            site.routes[(host, path)] = (200, "application/rss+xml; charset=utf-8", body)
            site.feeds.append(f"http://{host}:{port}{path}")
    first = addresses[0]
    broken = b"<?xml version='1.0'?><rss><channel><item>"
    site.routes[(first, "/feeds/broken.rss")] = (200, "application/rss+xml", broken)
    site.routes[(first, "/feeds/error.rss")] = (500, "text/plain", b"internal error")
    for path in ("/feeds/broken.rss", "/feeds/error.rss", "/feeds/removed.rss"):  # removed: 404
        site.failing_feeds.append(f"http://{first}:{port}{path}")
    return site


def _rss(link: str, items: list[tuple[str, Page]]) -> bytes:
    parts = [
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>",
        f"<title>{escape(link)}</title><link>{escape(link)}</link><description>bench</description>",
    ]
    for url, page in items:
        title = f"<title>{escape(page.title)}</title>" if page.title else ""
        parts.append(
            f"<item><link>{escape(url)}</link><guid>{escape(url)}</guid>{title}"
            f"<description>{escape(page.summary)}</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def serve(site: Site, latency: float) -> list[http.server.ThreadingHTTPServer]:
    """Serve ``site`` on each of its addresses (threads of this process)."""
    routes = site.routes
    etags: dict[tuple[str, str], str] = {}  # filled on first request: rendering 50k editions up front is minutes

    def etag_of(key: tuple[str, str], body: bytes) -> str:
        tag = etags.get(key)
        if tag is None:
            tag = etags[key] = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        return tag

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if latency:
                time.sleep(latency)
            host = self.server.server_address[0]
            key = (str(host), self.path)
            found = routes.get(key)
            if found is None:
                self._reply(404, "text/plain", b"not found")
                return
            status, ctype, stored = found
            body = body_bytes(stored)
            etag = etag_of(key, body)
            if status == 200 and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._reply(status, ctype, body, etag if status == 200 else None)

        def _reply(self, status: int, ctype: str, body: bytes, etag: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 256

    servers = []
    for host in site.hosts:
        server = Server((host, site.port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    return servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["serve"])
    ap.add_argument("--pages", type=int, default=None, help="article pages (default: all, 437)")
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="publish every page this many times")
    args = ap.parse_args(argv)
    site = build(load_pages(args.pages), port=args.port or free_port(), hosts=args.hosts, repeat=args.repeat)
    serve(site, args.latency)
    print(json.dumps(site.manifest()), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
