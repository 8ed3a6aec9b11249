"""Canonical addresses of a page and of its lead image."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from worker.model.urls import InvalidURL, canonical_url, site_of
from worker.normalise.pagemeta import PageMeta


def choose_url(pm: PageMeta, url: str, final_url: str | None) -> str:
    """rel=canonical / og:url only when on the same site and not the homepage."""
    base = final_url or url
    try:
        fallback = canonical_url(base)
    except InvalidURL:
        return base
    for candidate in (pm.canonical, pm.first("og:url")):
        if not candidate:
            continue
        try:
            resolved = canonical_url(candidate, base=base)
        except InvalidURL:
            continue
        if site_of(resolved) != site_of(fallback):
            continue
        path = urlsplit(resolved).path
        if path in ("", "/") and urlsplit(fallback).path not in ("", "/"):
            continue
        return resolved
    return fallback


def image_url(pm: PageMeta, base: str) -> str | None:
    raw: Any = pm.first("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src")
    if not raw:
        art = pm.ld_article()
        img = art.get("image") if art else None
        if isinstance(img, list) and img:
            img = img[0]
        if isinstance(img, dict):
            img = img.get("url")
        raw = img if isinstance(img, str) else None
    if not raw:
        return None
    try:
        return canonical_url(raw, base=base)
    except InvalidURL:
        return None
