"""The DomainTracker base: wiring on every run, per-run outputs, metrics and ranking."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from trackyard import DomainTracker, Registry
from trackyard.errors import ConfigValidationError, QueryValidationError

FakeDist = Callable[..., Path]
Source = Callable[..., str]


@pytest.fixture
def acme(workdir: Path, fake_dist: FakeDist, tracker_module: Source) -> DomainTracker:
    """A tracker of a fake 'acme' domain whose model writes config['x'] and returns 'score'."""
    fake_dist(
        "acme-dist",
        {"trackyard.domains": {"acme": "{mod}plugin"}},
        {"{mod}plugin": tracker_module("acme")},
        version="2.5",
    )
    return Registry().get_tracker("acme", workspace=workdir / "ws")


def test_outputs_never_shared_and_cache_hit_returns_same_config_data(acme: DomainTracker) -> None:
    """Run A, run B, run A again: the hit returns A's own file, never B's (the output_dir trap)."""
    a = acme.go(name="a", config={"x": 1})
    b = acme.go(name="b", config={"x": 2})
    again = acme.go(name="a-again", config={"x": 1})
    assert a.output("table") != b.output("table")
    assert a.output("table").parent != b.output("table").parent
    assert again.cache_hit and again.cache_source == a.run_id
    assert again.output("table") == a.output("table")
    assert again.output("table").read_text() == "x\n1\n"
    assert b.output("table").read_text() == "x\n2\n"
    assert str(a.output("table")).startswith(str(acme.settings.run_dir))


def test_wiring_is_applied_to_every_run(acme: DomainTracker) -> None:
    """Model name, tags and declared outputs come from the wiring, not the caller."""
    outcome = acme.go(name="w", config={"x": 3})
    run = outcome.result.run
    assert run.model_name == "acme_model"
    assert run.tags == ["acme"]
    assert set(outcome.outputs) == {"table"}


def test_run_records_domain_distribution_and_core_version(acme: DomainTracker) -> None:
    """Every run's metadata names the domain, its distribution and version, and the core."""
    import trackyard

    hit_source = acme.go(name="p", config={"x": 4})
    hit = acme.go(name="p2", config={"x": 4})
    for outcome in (hit_source, hit):
        meta = acme.consist.get_run(outcome.run_id).meta["trackyard"]
        assert meta["domain"] == "acme"
        assert meta["distribution"] == "acme-dist"
        assert meta["version"] == "2.5"
        assert meta["core_version"] == trackyard.__version__
    assert acme.consist.get_run(hit.run_id).meta["trackyard"]["run_name"] == "p2"


def test_metrics_are_recorded_exactly_and_hits_report_the_source_metrics(
    acme: DomainTracker,
) -> None:
    """A returned metric is stored as float64; a cache hit reports the reused run's metrics."""
    first = acme.go(name="m", config={"x": 1, "score": 0.1000001})
    hit = acme.go(name="m2", config={"x": 1, "score": 0.1000001})
    assert first.metrics == {"score": 0.1000001}
    assert hit.cache_hit and hit.metrics == {"score": 0.1000001}
    assert acme.metrics(hit.run_id) == {"score": 0.1000001}
    # The hit's own row carries them, so a later hit matched against it needs no chain walk.
    assert acme.consist.get_run(hit.run_id).meta["metrics"] == {"score": 0.1000001}


def test_top_k_orders_by_precision_with_nan_and_missing_last(acme: DomainTracker) -> None:
    """Ranking is exact at float64 and puts NaN last in both orders; hits are not duplicated."""
    acme.go(name="hi", config={"x": 1, "score": 0.1000002})
    acme.go(name="lo", config={"x": 2, "score": 0.1000001})
    acme.go(name="nan", config={"x": 3, "score": "nan"})
    acme.go(name="big", config={"x": 4, "score": 5})
    acme.go(name="lo-again", config={"x": 2, "score": 0.1000001})  # cache hit: not ranked twice
    asc = acme.top_k("score", k=10)
    assert [r.name for r in asc] == ["lo", "hi", "big", "nan"]
    assert asc[0].value == 0.1000001 and asc[1].value == 0.1000002
    assert asc[3].value is not None and math.isnan(asc[3].value)
    desc = acme.top_k("score", k=10, order="desc")
    assert [r.name for r in desc] == ["big", "hi", "lo", "nan"]
    assert [r.name for r in acme.top_k("score", k=2)] == ["lo", "hi"]


def test_top_k_by_a_metric_no_run_recorded_names_the_recorded_ones(acme: DomainTracker) -> None:
    """Ranking by a metric no run of the domain has (a typo) is a QueryValidationError naming
    the recorded metrics and the closest one, not a ranking of empty values."""
    acme.go(name="one", config={"x": 1, "score": 1})
    with pytest.raises(QueryValidationError) as raised:
        acme.top_k("scroe", k=5)
    assert str(raised.value) == (
        "no run of domain 'acme' has metric 'scroe'; metrics recorded: score. Did you mean 'score'?"
    )
    with pytest.raises(QueryValidationError, match="metrics recorded: score.$"):
        acme.top_k("absent", k=5)


def test_top_k_of_a_domain_without_runs_is_empty(acme: DomainTracker) -> None:
    """Before any run there is nothing to rank, and no error."""
    assert acme.top_k("score", k=5) == []


@pytest.mark.parametrize(
    ("metric", "order", "k", "match"),
    [
        ("rmse') OR 1=1 --", "asc", 5, "invalid metric name"),
        ("x\"); COPY run TO '/tmp/x'", "asc", 5, "invalid metric name"),
        ("", "asc", 5, "invalid metric name"),
        ("score", "asc; DROP TABLE run", 5, "order must be 'asc' or 'desc'"),
        ("score", "random()", 5, "order must be 'asc' or 'desc'"),
        ("score", "asc", 0, "k must be an integer from 1 to 10000, got 0"),
        ("score", "asc", 10_001, "k must be an integer from 1 to 10000"),
        ("score", "asc", "5", "k must be an integer from 1 to 10000, got '5'"),
    ],
)
def test_top_k_rejects_bad_requests_before_sql(
    acme: DomainTracker, metric: str, order: str, k: object, match: str
) -> None:
    """Injection attempts and bad k or order raise QueryValidationError and run no SQL."""
    ran: list[object] = []
    original = acme.consist.run_query
    acme.consist.run_query = lambda q: ran.append(q) or original(q)  # type: ignore[method-assign]
    with pytest.raises(QueryValidationError, match=match.replace("(", r"\(").replace(")", r"\)")):
        acme.top_k(metric, k=k, order=order)  # type: ignore[arg-type]
    assert ran == []


def test_model_error_is_raised_and_run_recorded_failed(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """A raising model re-raises its own exception, the run is failed, and a retry executes."""
    extra = """
def bad(config):
    raise ValueError("negative coefficient " + str(config["c"]))

def fail(self, *, name, config):
    return self.run(bad, name=name, config=config)

Tracker.fail = fail
"""
    fake_dist(
        "acme-dist",
        {"trackyard.domains": {"acme": "{mod}plugin"}},
        {"{mod}plugin": tracker_module("acme", extra)},
    )
    tracker = Registry().get_tracker("acme")
    with pytest.raises(ValueError, match="negative coefficient -1"):
        tracker.fail(name="boom", config={"c": -1})
    with pytest.raises(ValueError, match="negative coefficient -1"):
        tracker.fail(name="boom", config={"c": -1})
    from sqlalchemy import text

    rows = tracker.consist.run_query(text("SELECT status FROM run ORDER BY created_at"))
    assert [r[0] for r in rows] == ["failed", "failed"]


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("", "run name must be a non-empty string"),
        ("../escape", "run name '../escape' may only hold letters"),
        ("a/b", "run name 'a/b' may only hold letters"),
        ("x" * 121, "is 121 characters; the limit is 120"),
    ],
)
def test_bad_run_names_are_refused_before_anything_is_written(
    acme: DomainTracker, name: str, match: str
) -> None:
    """A run name that is empty, too long or escapes the workspace writes no run."""
    with pytest.raises(ConfigValidationError, match=match):
        acme.go(name=name, config={"x": 1})
    from sqlalchemy import text

    assert acme.consist.run_query(text("SELECT count(*) FROM run"))[0][0] == 0


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"x": object()}, "config value at config.x is a object"),
        ({"x": {1, 2}}, "config value at config.x is a set"),
        ({"x": b"raw"}, "config value at config.x is a bytes"),
        ({1: "a"}, "config key 1 at config is int; keys must be strings"),
        ({"x": float("nan")}, "config value at config.x is nan; NaN and infinity are rejected"),
        ({"x": [float("inf")]}, r"config value at config.x\[0\] is inf"),
    ],
)
def test_configs_that_are_not_json_are_refused(
    acme: DomainTracker, config: dict[object, object], match: str
) -> None:
    """Non-JSON config values and NaN/inf are ConfigValidationError naming the path."""
    with pytest.raises(ConfigValidationError, match=match):
        acme.go(name="bad", config=config)  # type: ignore[arg-type]


def test_context_manager_makes_it_consists_active_tracker(acme: DomainTracker) -> None:
    """Inside `with tracker:` module-level consist helpers see this tracker."""
    import consist

    with acme as active:
        assert active is acme
        assert consist.current_tracker() is acme.consist
    with pytest.raises(RuntimeError):
        consist.current_tracker()


def test_existing_workspace_skips_schema_setup(workdir: Path) -> None:
    """A second tracker on an initialised workspace reuses the store without losing runs."""
    first = Registry().get_tracker("calibration", workspace=workdir / "ws")
    outcome = first.evaluate(run_name="base", config={"population": 2000})
    marker = workdir / "ws" / "provenance.duckdb.trackyard-schema"
    assert marker.is_file()
    second = Registry().get_tracker("calibration", workspace=workdir / "ws")
    hit = second.evaluate(run_name="base2", config={"population": 2000})
    assert hit.cache_hit and hit.cache_source == outcome.run_id


def test_two_models_in_one_module_never_share_cached_results(
    workdir: Path, fake_dist: FakeDist, tracker_module: Source
) -> None:
    """Same module, same model name, same config: the second function still runs itself."""
    extra = """
def other_model(config):
    from pathlib import Path
    import consist
    out = Path(consist.output_path("table", "csv"))
    out.write_text("other\\n")
    return {"table": out}

Tracker.go_other = lambda self, name, config: self.run(other_model, name=name, config=config)
"""
    fake_dist(
        "acme-dist",
        {"trackyard.domains": {"acme": "{mod}plugin"}},
        {"{mod}plugin": tracker_module("acme", extra)},
    )
    tracker = Registry().get_tracker("acme")
    first = tracker.go(name="first", config={"x": 1})
    other = tracker.go_other(name="other", config={"x": 1})
    assert not other.cache_hit
    assert other.output("table").read_text() == "other\n"
    assert first.output("table").read_text() == "x\n1\n"
    assert tracker.go_other(name="other-again", config={"x": 1}).cache_hit


def test_model_references_resolve_both_ways_through_one_resolver() -> None:
    """A callable stays itself; "module:qualname" imports (nested names too); bad references
    raise ConfigValidationError naming the option (and the domain when given)."""
    import os.path

    from trackyard._model import function_reference, resolve_callable

    assert resolve_callable(len) is len
    assert resolve_callable("os.path:join") is os.path.join
    assert resolve_callable("pathlib:Path.cwd") == Path.cwd
    assert resolve_callable(function_reference(os.path.join)) is os.path.join
    with pytest.raises(ConfigValidationError, match="option 'model' of domain 'x': cannot import"):
        resolve_callable("no_such_module_xyz:fn", domain="x")
    with pytest.raises(ConfigValidationError, match="option 'm' must be a callable or"):
        resolve_callable("no-colon", option="m")
    with pytest.raises(ConfigValidationError, match="is not callable"):
        resolve_callable("os:sep")


def test_tracker_resolves_model_options_and_names_its_domain(acme: DomainTracker) -> None:
    """DomainTracker.resolve_callable is the public way for plugins to read a model option."""
    assert acme.resolve_callable("math:sqrt")(4.0) == 2.0
    with pytest.raises(ConfigValidationError, match="option 'model' of domain 'acme'"):
        acme.resolve_callable("math:no_such_function")
