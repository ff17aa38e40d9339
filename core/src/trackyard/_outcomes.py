"""``Outcomes``: a batch's ``{run name: RunOutcome}``, kept compactly.

A sweep of tens of thousands of configs must not hold tens of thousands of full records in
the driver: a ``RunOutcome`` built from a worker's answer is about 2.5 KB of Python objects (a
frozen dataclass, three dicts, a ``Path`` per output with its cached parts). ``Outcomes`` keeps
each one as a single tuple (the outputs' folder and file names apart; metric and output keys,
file names and parent folders shared between runs that have the same ones) and builds the
``RunOutcome`` again when it is read: equal, field for field, to the one stored. An outcome
that carries consist's own ``RunResult`` (``RunOutcome.result``, set by a serial batch) is
kept as it is, since that result is the caller's to read.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from trackyard._outcome import RunOutcome

__all__ = ["Outcomes"]


class Outcomes(MutableMapping[str, RunOutcome]):
    """``{run name: RunOutcome}`` (a mutable mapping, in insertion order) holding each outcome
    as one compact record; reading a value builds an equal ``RunOutcome`` again."""

    def __init__(self, outcomes: Mapping[str, RunOutcome] | None = None) -> None:
        self._records: dict[str, tuple[Any, ...] | RunOutcome] = {}
        self._keys: dict[tuple[str, ...], tuple[str, ...]] = {}  # key tuples, shared
        if outcomes:
            self.update(outcomes)

    def _shared(self, keys: Iterable[str]) -> tuple[str, ...]:
        names = tuple(keys)
        return self._keys.setdefault(names, names)

    def __setitem__(self, name: str, outcome: RunOutcome) -> None:
        if outcome.result is not None:
            self._records[name] = outcome  # consist's RunResult is the caller's: kept whole
            return
        self._records[name] = (
            outcome.run_id,
            None if outcome.name == name else outcome.name,
            sys.intern(outcome.status),
            outcome.cache_hit,
            outcome.cache_source,
            self._shared(outcome.metrics),
            tuple(outcome.metrics.values()),
            self._shared(outcome.outputs),
            self._where(list(outcome.outputs.values())),
            outcome.config,
            dict(outcome.environment_changed) or None,
            outcome.rerun_reason,
        )

    def _where(self, paths: list[Path]) -> tuple[Any, ...]:
        """The outputs' paths, compactly: (their folder's parent, shared; the folder's name;
        the file names, shared) when they share a folder, else the paths as strings."""
        folders = {path.parent for path in paths}
        if len(folders) == 1:
            (folder,) = folders
            where = (self._shared((str(folder.parent),))[0], folder.name)
            files = self._shared(path.name for path in paths)
            if [Path(*where, file) for file in files] == paths:
                return (*where, files)
        return (None, None, tuple(str(path) for path in paths))

    def __getitem__(self, name: str) -> RunOutcome:
        record = self._records[name]
        if isinstance(record, RunOutcome):
            return record
        run_id, run_name, status, hit, source, mkeys, mvalues, okeys, where, config, env, why = (
            record
        )
        parent, folder, files = where
        paths = files if parent is None else [Path(parent, folder, file) for file in files]
        return RunOutcome(
            run_id=run_id,
            name=name if run_name is None else run_name,
            status=status,
            cache_hit=hit,
            cache_source=source,
            metrics=dict(zip(mkeys, mvalues, strict=True)),
            outputs={key: Path(path) for key, path in zip(okeys, paths, strict=True)},
            config=config,
            environment_changed=dict(env or {}),
            rerun_reason=why,
        )

    def __delitem__(self, name: str) -> None:
        del self._records[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, name: object) -> bool:
        return name in self._records

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def reorder(self, names: Iterable[str]) -> None:
        """Keep only ``names`` that are here, in that order (records are moved, not rebuilt)."""
        self._records = {n: self._records[n] for n in names if n in self._records}
