"""The live view's page shell: one HTML document per page, scripts and styles from the server
itself (the Content-Security-Policy allows no other origin), every value escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from trackyard.serve._state import Fresh

CSS_EXTRA = """
.stale{background:#fff3c4;border:1px solid #f0b429;padding:.4rem .8rem;border-radius:6px}
.live-status{color:#486581;font-size:.85rem}.diff td.changed{background:#fff3c4}
form.compare input{width:22rem;margin-right:.5rem}
"""


def esc(value: object) -> str:
    """``value`` as HTML text (quotes too)."""
    return html.escape(str(value), quote=True)


def run_href(run_id: str) -> str:
    """The run page of ``run_id``."""
    return f"/runs/{quote(run_id, safe='')}"


def domain_href(domain: str) -> str:
    """The page of ``domain``."""
    return f"/domains/{quote(domain, safe='')}"


def stale_note(fresh: Fresh[Any]) -> str:
    """The banner of a page answered from older data (empty when current)."""
    if fresh.stale is None:
        return ""
    return (
        f'<p class="stale" data-stale="1">Showing data read {fresh.age:.0f} s ago: the store '
        f"is busy ({esc(fresh.stale)}). The page catches up once it is free.</p>"
    )


def page(title: str, body: str, domains: Sequence[str], *, scripts: bool = True) -> str:
    """A whole document: header with navigation, ``body``, then plotly and the page script."""
    nav = "".join(f'<a href="{esc(domain_href(d))}">{esc(d)}</a>' for d in domains)
    tail = (
        '<script src="/static/plotly.min.js"></script><script src="/static/serve.js"></script>'
        if scripts
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{esc(title)} · trackyard</title><link rel="stylesheet" href="/static/serve.css">'
        '<link rel="icon" href="data:,"></head><body>'
        f'<header><h1>{esc(title)}</h1><nav><a href="/">overview</a>{nav}'
        '<a href="/compare">compare</a></nav></header>'
        f"<main>{body}</main>{tail}</body></html>"
    )


def busy_note(message: str, then: str = "This page reloads in a few seconds.") -> str:
    """The note of a store locked past the budget before anything was read from it."""
    return (
        '<p class="stale" data-stale="1">The store is busy and nothing has been read from it '
        f"yet ({esc(message)}). {esc(then)}</p>"
    )


def busy_page(message: str, domains: Sequence[str]) -> str:
    """The page shown when the store was locked past the budget before anything was read."""
    body = busy_note(message) + '<div id="reload" data-after="3"></div>'
    return page("store busy", body, domains)


def not_found_page(what: str, domains: Sequence[str]) -> str:
    """The 404 page, naming what was not found."""
    return page("not found", f'<p class="failed">{esc(what)}</p>', domains, scripts=False)
