"""Names that must agree everywhere: the workspace's files and the keys of run metadata.

The bottom of the import graph: it imports nothing from trackyard.

Workspace (defaults; ``db_path`` and ``run_dir`` can be moved by settings):

```text
    <workspace>/
      provenance.duckdb                 the store (DB_FILE); its schema marker beside it
      runs/                             consist's run folder (RUNS_DIR)
        consist_runs/<run id>.json      consist's JSON snapshots (SNAPSHOT_DIR); their key
                                        "trackyard" is trackyard's (_consist.contents)
      inputs/<sha[:2]>/<sha>            input files imported from bundles (INPUTS_DIR)
      sources/<sha[:2]>/<sha>.gz        kept source of keyed modules (SOURCES_DIR)
      shards/                           many-run sweeps in flight (SHARDS_DIR)
        template.duckdb                 an initialised empty store workers copy (TEMPLATE_DB)
        <sweep>/driver.pid              "<host> <pid>" of the sweep's driver (DRIVER_FILE)
        <sweep>/<worker>/<run>-<id>.duckdb   one shard per task (".done" beside it: ended)
      inflight/<id>.json                one record per sweep in flight (INFLIGHT_DIR, _inflight):
                                        its domain, label, total, done / failed counts, driver
```

Run metadata (``run.meta``, JSON) written by trackyard:

```text
    {"trackyard": {"domain", "run_name", "pid", "host", "plugin_set", "interrupted",
                   "model_distribution", "rerun_reason", "invalidated", "model",
                   "source_executed", "identity": {"<label>": {"path", "sha256"}},
                   "deps": {"modules", "undeclared_inputs", "environment"}, ...},
     "metrics": {"<metric>": 0.3, ...},     # recorded inside the model
     "cache_source": "<run id>"}            # consist: the run a cache hit reused
```
"""

from __future__ import annotations

DEFAULT_WORKSPACE = ".trackyard"
DB_FILE = "provenance.duckdb"
RUNS_DIR = "runs"
SNAPSHOT_DIR = "consist_runs"
SHARDS_DIR = "shards"
TEMPLATE_DB = "template.duckdb"
DRIVER_FILE = "driver.pid"
SCHEMA_MARKER_SUFFIX = ".trackyard-schema"
WAL_SUFFIX = ".wal"
DONE_SUFFIX = ".done"  # beside a shard whose task has ended
INFLIGHT_DIR = "inflight"  # <workspace>/inflight/<id>.json: sweeps in flight (_inflight)

# Top-level keys of run.meta.
STAMP = "trackyard"
METRICS = "metrics"
CACHE_SOURCE = "cache_source"
# Keys inside run.meta["trackyard"].
DOMAIN = "domain"
RUN_NAME = "run_name"
PID = "pid"
HOST = "host"
PLUGIN_SET = "plugin_set"
INTERRUPTED = "interrupted"
MODEL_DIST = "model_distribution"  # "name==version" of the distribution providing the model
RERUN_REASON = "rerun_reason"  # why a cache hit was refused (its outputs missing or changed)
INVALIDATED = "invalidated"  # set by `trackyard doctor --fix`: why the run is never served
DEPS = "deps"  # what the run used: {"modules", "undeclared_inputs", "environment"} (_deps)
IDENTITY = "identity"  # every keyed file: {"<label>": {"path", "sha256"}} (why / diff)
MODEL_REF = "model"  # "module:qualname" of the model function
SOURCES_DIR = "sources"  # <workspace>/sources/<sha[:2]>/<sha>.gz: keyed modules' source
EXECUTOR_SOURCE = "source_executed"  # on a hit: its cache_source is the run that executed
IMPORTED = "imported"  # set by `trackyard import`: {"host", "created_at", "plugin_set", ...}
INPUTS_DIR = "inputs"  # <workspace>/inputs/<sha[:2]>/<sha>: input files an import brought

# The same keys as DuckDB JSON paths (constants only: no user value is ever formatted in).
DOMAIN_PATH = f"$.{STAMP}.{DOMAIN}"
RUN_NAME_PATH = f"$.{STAMP}.{RUN_NAME}"
PLUGIN_SET_PATH = f"$.{STAMP}.{PLUGIN_SET}"
METRICS_PATH = f"$.{METRICS}"
CACHE_SOURCE_PATH = f"$.{CACHE_SOURCE}"
UNDECLARED_PATH = f"$.{STAMP}.{DEPS}.undeclared_inputs"


def metric_path(metric: str) -> str:
    """The JSON path of one metric, ``$.metrics."<metric>"``; bind it as a query parameter."""
    return f'{METRICS_PATH}."{metric}"'
