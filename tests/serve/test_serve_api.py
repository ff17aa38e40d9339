"""The JSON API and the server's defences, over real HTTP against ``trackyard serve``."""

from __future__ import annotations

import json

import duckdb
import pytest

from .conftest import Served


def _db_ids(served: Served) -> list[str]:
    with duckdb.connect(str(served.workspace / "provenance.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT id FROM run WHERE json_extract_string(meta, '$.trackyard.domain') = "
            "'calibration' ORDER BY created_at, id"
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_runs_are_listed_page_by_page_with_a_cursor(served: Served) -> None:
    """Following ``next`` from the first page lists every run of the store once, oldest
    first."""
    ids, cursor, pages = [], "", 0
    while cursor is not None:
        body = served.json(f"/api/runs?domain=calibration&limit=2&after={cursor}")
        ids += [r["run_id"] for r in body["runs"]]
        cursor, pages = body["next"], pages + 1
    assert ids == _db_ids(served)
    assert pages == -(-len(ids) // 2)
    assert body["total"] == len(ids) and body["stale"] is None


def test_domains_run_and_top(served: Served) -> None:
    """``/api/domains`` counts runs; ``/api/runs/{id}`` has config, metrics, inputs and
    outputs with sizes; ``/api/top`` ranks as ``top_k`` does."""
    domains = served.json("/api/domains")["domains"]
    assert domains == [{"domain": "calibration", "runs": len(_db_ids(served)), "installed": True}]
    first = served.json("/api/runs?domain=calibration&limit=1")["runs"][0]
    run = served.json(f"/api/runs/{first['run_id']}")
    assert run["config"]["a"] == first["config"]["a"] and "error" in run["metrics"]
    assert {o["key"] for o in run["outputs"]} == {"metrics", "persons", "trips"}
    assert all(o["size"] > 0 and o["download"].startswith("/runs/") for o in run["outputs"])
    top = served.json("/api/top?domain=calibration&metric=error&k=3")["runs"]
    values = [r["value"] for r in top]
    assert len(top) == 3 and values == sorted(values)


def _output(served: Served, key: str) -> tuple[str, str]:
    run_id = served.json("/api/runs?domain=calibration&limit=1")["runs"][0]["run_id"]
    return run_id, f"/runs/{run_id}/outputs/{key}"


HOSTILE = [
    ("/runs/{run}/outputs/../../../../etc/passwd", 404),
    ("/runs/{run}/outputs/..%2F..%2F..%2Fprovenance.duckdb", 404),
    ("/runs/{run}/outputs/%2Fetc%2Fpasswd", 404),
    ("/runs/{run}/outputs/%2e%2e%2f%2e%2e%2fprovenance.duckdb", 404),
    ("/runs/{run}/outputs/..", 404),
    ("/runs/..%2F..%2Fprovenance.duckdb/outputs/persons", 404),
    ("/runs/{run}/outputs/{secret}", 404),
    ("/static/..%2F..%2F_app.py", 404),
    ("/static/../__init__.py", 404),
    ("/api/runs/x'%20OR%20'1'='1", 404),
    ("/api/runs/%27%3B%20DROP%20TABLE%20run%3B%20--", 404),
    ("/runs/%27%3B%20DROP%20TABLE%20run%3B%20--", 404),
    ("/api/runs?domain=calibration&limit=100000000", 422),
    ("/api/runs?domain=calibration&limit=-1", 422),
    ("/api/runs?domain=calibration&after=abc", 422),
    ("/api/runs", 422),
    ("/api/runs?domain=%27%20OR%201%3D1%20--", 404),
    ("/api/top?domain=calibration&metric=a%27b%22c", 422),
    ("/api/top?domain=calibration&metric=error%22)%3B%20COPY%20run%20TO%20%27x%27", 422),
    ("/api/top?domain=calibration&metric=error&k=100000000", 422),
    ("/api/top?domain=calibration&metric=error&order=desc%3B", 422),
    ("/domains/calibration?page=-1", 422),
    ("/domains/nosuch", 404),
]


@pytest.mark.parametrize(("path", "status"), HOSTILE)
def test_hostile_requests_get_404_or_422(served: Served, path: str, status: int) -> None:
    """Traversal (plain and encoded), SQL in ids and names, huge limits and quoted metric
    names are answered 404 or 422, and nothing from outside the workspace is served."""
    run_id, _ = _output(served, "persons")
    got, _, body = served.get(path.format(run=run_id, secret=served.outside.name))
    assert got == status, body[:200]
    assert b"top secret" not in body and b"root:" not in body and b"DUCK" not in body
    if path.startswith("/api/") and got == 422:
        assert json.loads(body)["error"]


def test_symlink_out_of_the_workspace_is_not_served(served: Served) -> None:
    """An output file replaced by a symlink to a file outside the workspace gets 404; the
    run's other outputs are still served."""
    run_id = served.json("/api/runs?domain=calibration&limit=1")["runs"][0]["run_id"]
    outputs = {o["key"]: o for o in served.json(f"/api/runs/{run_id}")["outputs"]}
    target = served.workspace / "runs" / outputs["trips"]["file"]
    original = target.read_bytes()
    target.unlink()
    target.symlink_to(served.outside)
    try:
        status, _, body = served.get(outputs["trips"]["download"])
        assert status == 404 and b"top secret" not in body
        status, headers, body = served.get(outputs["persons"]["download"])
        assert status == 200 and body.startswith(b"PAR1")
        assert "attachment" in headers["content-disposition"]
    finally:
        target.unlink()
        target.write_bytes(original)


def test_no_write_endpoint_and_protective_headers(served: Served) -> None:
    """Every method but GET/HEAD is refused; each response carries a CSP that allows no
    other origin; a request naming another host (DNS rebinding) is refused."""
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/api/runs?domain=calibration", "/api/domains"):
            assert served.get(path, method=method)[0] == 405
    status, headers, _ = served.get("/")
    assert status == 200
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "http" not in csp and "*" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert served.get("/", headers={"Host": "evil.example"})[0] == 400
