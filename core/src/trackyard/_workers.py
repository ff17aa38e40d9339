"""How ``run_many``'s workers rebuild a domain's tracker, or why they cannot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

from trackyard.errors import ExecutorError


@dataclass(frozen=True)
class WorkersRefused:
    """The ``worker_builder`` of a tracker that worker processes cannot rebuild (a domain
    registered in this process only): ``run_many`` raises ``ExecutorError(reason)`` before
    anything runs when asked for processes or Dask."""

    reason: str

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ExecutorError(self.reason)


def sandbox_refusal(domain: str) -> WorkersRefused:
    """Why a ``PluginSandbox`` domain cannot run in worker processes, and what to do."""
    return WorkersRefused(
        f"domain {domain!r} is registered in a PluginSandbox, in this process only: worker "
        "processes (executor='processes' or a Dask client) cannot rebuild its tracker. Use "
        "executor='serial' with a sandbox, or install the plugin (pip install -e <its folder>) "
        "and build the tracker with trackyard.get_tracker to test other executors"
    )
