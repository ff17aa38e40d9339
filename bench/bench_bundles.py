"""Run bundles (issue 20): export and import of an R-run workspace; prints a Markdown table.

The R runs are made from ONE real simulation run whose JSON snapshot and output file are
copied with new run, artifact and content ids, a distinct output file each (its hash
recorded), and their rows restored with ``reconcile`` (running 1,000 real runs takes many
minutes; the copies have the same rows, artifacts and links). Then, each timed in process:

* ``trackyard.export_runs`` of the R runs to a ``.tar.gz`` (hashing every output against its
  record, writing the archive);
* ``trackyard.import_runs`` into a fresh workspace in another folder (verifying every member,
  placing the files, one transaction for the rows, the metrics index), the goal being < 10 s
  for 1,000 runs;
* the same import again (nothing to do: it only reads);
* the same call as the first run's in the imported workspace: a cache hit (checked).

Usage: ``python bench/bench_bundles.py [R]`` (default 1000). Run on a quiet machine.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import trackyard

CONFIG = {"alpha": 1.0, "seed": 1}


def _copy(payload: dict[str, Any], i: int, run_dir: Path, data: bytes) -> dict[str, Any]:
    """Run ``i``: the real run's record with new ids and its own output file."""
    record = json.loads(json.dumps(payload))
    run_id = f"bench_{i:05d}"
    record["run"]["id"] = run_id
    record["run"]["config_hash"] = hashlib.sha256(f"{i}".encode()).hexdigest()
    uri = f"./outputs/predator_prey/{run_id}/results.parquet"
    body = data + i.to_bytes(4, "little")
    path = run_dir / uri
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    for artifact in record["outputs"]:
        artifact.update(
            id=str(uuid.uuid4()),
            content_id=str(uuid.uuid4()),
            run_id=run_id,
            container_uri=uri,
            hash=hashlib.sha256(body).hexdigest(),
        )
    return record


def _workspace(root: Path, runs: int) -> Path:
    ws = root / "cluster" / "ws"
    sim = trackyard.get_tracker("simulation", workspace=ws)
    first = sim.run_model(name="real", config=CONFIG)
    run_dir = sim.settings.run_dir
    snapshot = run_dir / "consist_runs" / f"{first.run_id}.json"
    payload = json.loads(snapshot.read_text(encoding="utf-8"))
    data = first.output("results").read_bytes()
    for i in range(runs - 1):
        record = _copy(payload, i, run_dir, data)
        target = run_dir / "consist_runs" / f"{record['run']['id']}.json"
        target.write_text(json.dumps(record), encoding="utf-8")
    report = trackyard.reconcile(ws)
    assert not report.errors, report
    return ws


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-bundles-") as tmp:
        root = Path(tmp)
        ws = _workspace(root, runs)
        bundle = root / "carry" / "runs.tar.gz"
        t_export, exported = _timed(lambda: trackyard.export_runs(bundle, workspace=ws))
        assert len(exported.runs) == runs, exported
        laptop = root / "laptop" / "ws"
        t_import, imported = _timed(lambda: trackyard.import_runs(bundle, workspace=laptop))
        assert len(imported.imported) == runs, imported
        t_again, again = _timed(lambda: trackyard.import_runs(bundle, workspace=laptop))
        assert not again.imported
        sim = trackyard.get_tracker("simulation", workspace=laptop)
        t_hit, hit = _timed(lambda: sim.run_model(name="on-laptop", config=CONFIG))
        assert hit.cache_hit
        size = bundle.stat().st_size / 1e6
        print(f"| what ({runs} runs, bundle {size:.1f} MB, {exported.members} members) | s |")
        print("|---|---|")
        print(f"| export_runs | {t_export:.2f} |")
        print(f"| import_runs into a fresh workspace | {t_import:.2f} |")
        print(f"| import_runs again (nothing to do) | {t_again:.2f} |")
        print(f"| the first run's call in the new workspace (a hit) | {t_hit:.2f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
