"""A ``PluginSandbox`` domain lives in this process only: ``executor="processes"`` (or Dask) is
refused before anything runs, saying so; ``"serial"`` runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trackyard import DomainTracker, ManyResult, Wiring
from trackyard.errors import ExecutorError
from trackyard.testing import PluginSandbox


def model(config: dict[str, Any]) -> dict[str, Any]:
    return {"total": float(config["x"])}


class _Pm(DomainTracker):
    wiring = Wiring(model="pm_model")

    def many(self, *, executor: str) -> ManyResult:
        """Two runs of the model on ``executor``."""
        return self.run_many(model, [("a", {"x": 1}), ("b", {"x": 2})], executor=executor)


def test_a_sandbox_domain_refuses_processes_up_front(tmp_path: Path) -> None:
    """executor='processes' is an ExecutorError naming the sandbox; nothing is recorded; the
    same verb runs serially."""
    sandbox = PluginSandbox()
    sandbox.add("pm", _Pm)
    tracker = sandbox.get_tracker("pm", workspace=tmp_path)
    with pytest.raises(ExecutorError) as raised:
        tracker.many(executor="processes")
    assert str(raised.value) == (
        "domain 'pm' is registered in a PluginSandbox, in this process only: worker processes "
        "(executor='processes' or a Dask client) cannot rebuild its tracker. Use "
        "executor='serial' with a sandbox, or install the plugin (pip install -e <its folder>) "
        "and build the tracker with trackyard.get_tracker to test other executors"
    )
    assert tracker.top_k("total") == []
    result = tracker.many(executor="serial")
    assert sorted(result.outcomes) == ["a", "b"] and not result.failures
