"""The JSON API behind the pages (``docs/serve.md``): domains, runs page by page, one run, and
the top runs by a metric with ``top_k``'s validation. Bad parameters answer 422 with a message
naming the parameter; unknown domains and runs answer 404; a store locked past the budget with
nothing read before answers 503. Sweeps in flight come from their records, never the store."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from trackyard import _queries
from trackyard.errors import QueryValidationError
from trackyard.serve import _flight, _runs
from trackyard.serve._state import Busy, Fresh, Reader

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _count(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    """A whole number in [low, high] from a query parameter; ``ValueError`` naming it."""
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 9 or not low <= int(raw) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {raw[:40]!r}")
    return int(raw)


def _answer(fresh: Fresh[Any], body: dict[str, Any]) -> JSONResponse:
    body["stale"] = fresh.stale
    body["age"] = round(fresh.age, 3)
    return JSONResponse(body)


class Api:
    """The API's handlers, sharing the server's ``Reader``."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def _domains(self) -> Fresh[dict[str, int]]:
        return self.reader.read("domains", self.reader.domains)

    def domains(self, request: Request) -> JSONResponse:
        """``GET /api/domains``: each domain with runs, how many, whether its plugin is here."""
        try:
            fresh = self._domains()
        except Busy as exc:
            return _error(503, str(exc))
        installed = {d.name for d in self.reader.registry.available_domains()}
        rows = [
            {"domain": d, "runs": n, "installed": d in installed} for d, n in fresh.value.items()
        ]
        return _answer(fresh, {"domains": rows})

    def _domain(self, request: Request) -> str | JSONResponse:
        domain = request.query_params.get("domain")
        if not domain:
            return _error(422, "domain is required: ?domain=NAME (see GET /api/domains)")
        if domain not in self._domains().value:
            return _error(404, f"no runs of domain {domain[:80]!r} in this workspace")
        return domain

    def runs(self, request: Request) -> JSONResponse:
        """``GET /api/runs?domain=D&limit=N&after=CURSOR``: runs oldest first, ``limit`` at a
        time; ``next`` is the cursor of the following page (null at the end)."""
        try:
            domain = self._domain(request)
            if isinstance(domain, JSONResponse):
                return domain
            limit = _count(request.query_params.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
            after = _count(request.query_params.get("after"), "after", 0, 0, 10**9)
            fresh = self.reader.records_fresh(domain)
        except ValueError as exc:
            return _error(422, str(exc))
        except Busy as exc:
            return _error(503, str(exc))
        records = fresh.value
        page = records[after : after + limit]
        nxt = after + len(page) if after + len(page) < len(records) else None
        return _answer(
            fresh,
            {
                "domain": domain,
                "total": len(records),
                "runs": [_runs.listing_json(r) for r in page],
                "next": None if nxt is None else str(nxt),
            },
        )

    def run(self, request: Request) -> JSONResponse:
        """``GET /api/runs/{run_id}``: one run with its config, metrics, inputs and outputs."""
        run_id = request.path_params["run_id"]
        try:
            fresh = self.reader.read(
                ("detail", run_id), lambda: _runs.run_detail(self.reader, run_id)
            )
        except Busy as exc:
            return _error(503, str(exc))
        if fresh.value is None:
            return _error(404, f"no run {run_id[:80]!r} in this workspace")
        return _answer(fresh, _runs.run_json(fresh.value))

    def sweeps(self, request: Request) -> JSONResponse:
        """``GET /api/sweeps``: every sweep and calibration in flight (and those whose driver
        is gone), oldest first, with done / failed / remaining; read now, never the store."""
        found = [_flight.sweep_json(s) for s in self.reader.inflight()]
        return JSONResponse({"sweeps": found, "stale": None, "age": 0.0})

    def top(self, request: Request) -> JSONResponse:
        """``GET /api/top?domain=D&metric=M&k=K&order=asc``: as ``DomainTracker.top_k``."""
        try:
            domain = self._domain(request)
            if isinstance(domain, JSONResponse):
                return domain
            params = request.query_params
            metric = params.get("metric", "")
            k = _count(params.get("k"), "k", 5, 0, 10**9)
            order = params.get("order", "asc")
            fresh = self.reader.read(
                ("top", domain, metric, k, order),
                lambda: _queries.ranked_runs(
                    self.reader.store, domain, metric, k, order, use_index=False
                ),
            )
        except (QueryValidationError, ValueError) as exc:
            return _error(422, str(exc))
        except Busy as exc:
            return _error(503, str(exc))
        rows = [
            {"rank": i, "run_id": r.run_id, "name": r.name, "value": _runs._finite(r.value)}
            for i, r in enumerate(fresh.value, start=1)
        ]
        return _answer(fresh, {"domain": domain, "metric": metric, "order": order, "runs": rows})
