"""The Starlette application of ``trackyard serve``: routes, headers, static files.

Read-only by construction: every route answers GET (and HEAD) only. Pages and JSON are built
by ``_pages``, ``_runs`` and ``_api`` from what ``_state.Reader`` reads.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trackyard.serve import _api, _flight, _pages, _runs
from trackyard.serve._files import output_file
from trackyard.serve._html import busy_note, busy_page, esc, not_found_page, page, stale_note
from trackyard.serve._state import Busy, Fresh, Reader

if TYPE_CHECKING:
    from trackyard.registry import Registry

# No origin but this server: scripts, styles, data requests; nothing may frame the pages.
# 'unsafe-eval': plotly's WebGL traces (parallel coordinates) compile their shaders' glue code
# with Function(); it allows no other origin.
CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class _SecurityHeaders:
    """Adds the CSP and the other protective headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Static:
    """plotly.js (from the installed plotly package) and the page's own script and style."""

    def __init__(self) -> None:
        self._plotly: bytes | None = None

    def plotly(self) -> bytes:
        if self._plotly is None:
            from plotly.offline import get_plotlyjs

            self._plotly = get_plotlyjs().encode("utf-8")
        return self._plotly

    @staticmethod
    def own(name: str) -> bytes:
        data = resources.files("trackyard.serve").joinpath("static", name).read_bytes()
        if name == "serve.css":
            from trackyard.report._render import _CSS
            from trackyard.serve._html import CSS_EXTRA

            data = (_CSS + CSS_EXTRA).encode("utf-8") + data
        return data


_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


class Views:
    """The route handlers, sharing one ``Reader``."""

    def __init__(self, reader: Reader, refresh: float) -> None:
        self.reader = reader
        self.refresh = refresh
        self.static = _Static()

    def _domains(self) -> list[str]:
        try:
            return list(self.reader.read("domains", self.reader.domains).value)
        except Busy:
            return []

    def static_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            body = self.static.plotly()
        elif name in ("serve.js", "serve.css"):
            body = self.static.own(name)
        else:
            return Response("not found", status_code=404, media_type="text/plain")
        kind = _TYPES[name.rsplit(".", 1)[1]]
        return Response(body, media_type=kind, headers={"Cache-Control": "max-age=3600"})

    def _overview(self) -> tuple[str, str]:
        """The overview's live part and its version: the store's part (read once per store
        signature) and the sweeps in flight (read now: a killed driver shows at once)."""
        try:
            fresh = self.reader.read("overview", lambda: _pages.overview(self.reader))
            stored, version = stale_note(fresh) + fresh.value, fresh.version
        except Busy as exc:
            stored, version = busy_note(str(exc), "The page catches up once it is free."), "busy"
        flying = _flight.section_html(self.reader)
        digest = hashlib.blake2b(flying.encode("utf-8"), digest_size=8).hexdigest()
        return stored + flying, f"{version}#{digest}"

    def overview(self, request: Request) -> Response:
        body, version = self._overview()
        live = (
            f'<div id="live" data-src="/live-overview" data-version="{esc(version)}" '
            f'data-refresh="{self.refresh:g}">{body}</div>'
        )
        return HTMLResponse(
            page("trackyard workspace", live + _pages.compare_form(), self._domains())
        )

    def live_overview(self, request: Request) -> Response:
        """The overview's live part when it differs from version ``v``."""
        body, version = self._overview()
        if request.query_params.get("v") == version:
            return JSONResponse({"changed": False})
        return JSONResponse({"changed": True, "version": version, "html": body})

    def _page_number(self, request: Request) -> int | None:
        raw = request.query_params.get("page", "0")
        if not raw.isdigit() or len(raw) > 6:
            return None
        return int(raw)

    def domain(self, request: Request) -> Response:
        domain = request.path_params["domain"]
        number = self._page_number(request)
        domains = self._domains()
        if number is None:
            return HTMLResponse(not_found_page("no such page", domains), status_code=422)
        if domain not in domains:
            return HTMLResponse(not_found_page(f"no domain {domain!r}", domains), 404)
        try:
            fresh, version = self._live(domain, number)
        except Busy as exc:
            return HTMLResponse(busy_page(str(exc), domains))
        live = (
            f'<div id="live" data-domain="{esc(domain)}" data-page="{number}" '
            f'data-version="{esc(version)}" data-refresh="{self.refresh:g}">'
            f"{stale_note(fresh)}{fresh.value[0]}</div>"
        )
        return HTMLResponse(page(domain, live + _pages.compare_form(), domains))

    def _live(self, domain: str, number: int) -> tuple[Any, str]:
        fresh = self.reader.read(
            ("domain", domain, number), lambda: _pages.domain_live(self.reader, domain, number)
        )
        return fresh, fresh.version

    def live(self, request: Request) -> Response:
        """What changed on a domain's page since ``v`` (the store signature it shows)."""
        domain = request.path_params["domain"]
        number = self._page_number(request)
        if number is None or domain not in self._domains():
            return JSONResponse({"error": "no such domain or page"}, status_code=404)
        if request.query_params.get("v") == self.reader.signature():
            return JSONResponse({"changed": False})
        try:
            fresh, version = self._live(domain, number)
        except Busy as exc:
            return JSONResponse({"changed": False, "stale": str(exc)})
        html, runs = fresh.value
        return JSONResponse(
            {
                "changed": True,
                "version": version,
                "html": stale_note(fresh) + html,
                "runs": runs,
                "stale": fresh.stale,
            }
        )

    def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        domains = self._domains()
        try:
            fresh = self.reader.read(("run", run_id), lambda: self._run_page(run_id))
        except Busy as exc:
            return HTMLResponse(busy_page(str(exc), domains))
        if fresh.value is None:
            return HTMLResponse(not_found_page(f"no run {run_id!r}", domains), status_code=404)
        title, body = fresh.value
        return HTMLResponse(page(title, stale_note(fresh) + body, domains))

    def _run_page(self, run_id: str) -> tuple[str, str] | None:
        detail = _runs.run_detail(self.reader, run_id)
        if detail is None:
            return None
        title = f"run {detail.record.name or run_id}"
        return title, _runs.run_page_body(self.reader, detail)

    def download(self, request: Request) -> Response:
        run_id, key = request.path_params["run_id"], request.path_params["key"]
        try:
            detail = self._detail(run_id).value
        except Busy:
            return Response("the store is busy; retry", status_code=503)
        path = (
            None if detail is None else output_file(detail.record, key, self.reader.store.run_dir)
        )
        if path is None:
            return Response("not found", status_code=404, media_type="text/plain")
        return FileResponse(path, filename=path.name)

    def _detail(self, run_id: str) -> Fresh[_runs.RunDetail | None]:
        return self.reader.read(("detail", run_id), lambda: _runs.run_detail(self.reader, run_id))

    def compare(self, request: Request) -> Response:
        ids = [i for i in request.query_params.getlist("run") if i][:20]
        domains = self._domains()
        form = _pages.compare_form(ids)
        if len(ids) < 2:
            body = "<p>Name two or more runs to compare their configs and metrics.</p>" + form
            return HTMLResponse(page("compare runs", body, domains))
        try:
            found = [self._detail(i) for i in ids]
        except Busy as exc:
            return HTMLResponse(busy_page(str(exc), domains))
        missing = [i for i, f in zip(ids, found, strict=True) if f.value is None]
        if missing:
            return HTMLResponse(not_found_page(f"no run {missing[0]!r}", domains), 404)
        details = [f.value for f in found if f.value is not None]
        return HTMLResponse(page("compare runs", _runs.compare_body(details) + form, domains))


def create_app(
    workspace: Path | None,
    *,
    registry: Registry | None = None,
    budget: float = 2.0,
    refresh: float = 1.0,
    local_only: bool = True,
) -> Starlette:
    """The live view of ``workspace`` as an ASGI application (``uvicorn`` serves it).

    ``budget``: seconds a request waits for a locked store before answering the last data
    read; ``refresh``: seconds between a page's checks for changes; ``local_only``:
    answer only requests addressed to this machine's loopback names (DNS rebinding).
    """
    from trackyard.registry import default_registry

    reader = Reader(workspace, registry or default_registry(), budget)
    views = Views(reader, refresh)
    api = _api.Api(reader)
    routes = [
        Route("/", views.overview),
        Route("/domains/{domain}", views.domain),
        Route("/live/{domain}", views.live),
        Route("/live-overview", views.live_overview),
        Route("/runs/{run_id}", views.run),
        Route("/runs/{run_id}/outputs/{key}", views.download),
        Route("/compare", views.compare),
        Route("/static/{name}", views.static_file),
        Route("/api/domains", api.domains),
        Route("/api/runs", api.runs),
        Route("/api/runs/{run_id}", api.run),
        Route("/api/top", api.top),
        Route("/api/sweeps", api.sweeps),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        threading.Thread(target=reader.warm, name="trackyard-serve-warm", daemon=True).start()
        yield

    middleware = [Middleware(_SecurityHeaders)]
    if local_only:
        hosts = ["127.0.0.1", "localhost", "[::1]", "::1"]
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=hosts))
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
