"""``Wiring``: what every run of a domain carries, so no caller can forget it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

CodeIdentity = Literal["callable_module", "callable_source", "repo_git"]


@dataclass(frozen=True)
class Wiring:
    """Run wiring fixed for a domain: model name, identity inputs, output keys and options.

    Fields left at ``None`` / empty take part in no merge. ``runtime_kwargs`` are passed to the
    model but are OUTSIDE the cache key: never put anything there that changes the outputs.
    ``code_dependencies`` are files hashed as part of the model's code (a script the model
    runs, a template); the modules the model imports from its own project are found without
    being listed. ``untracked_config`` names top-level config keys whose string values are not
    inputs (a log file the model appends to): other strings naming an existing file are
    refused (see ``docs/provenance.md``).
    """

    model: str | None = None
    identity_inputs: tuple[tuple[str, Path], ...] = ()
    outputs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    facets: Mapping[str, Any] = field(default_factory=dict)
    cache_epoch: int | None = None
    code_identity: CodeIdentity | None = None
    runtime_kwargs: Mapping[str, Any] = field(default_factory=dict)
    code_dependencies: tuple[Path, ...] = ()
    untracked_config: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept lists and str paths from plugin authors; store immutable, typed values.
        pairs = []
        for item in self.identity_inputs:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise TypeError(
                    f"Wiring.identity_inputs items must be (label, path) pairs, got {item!r}"
                )
            pairs.append((str(item[0]), Path(item[1])))
        object.__setattr__(self, "identity_inputs", tuple(pairs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(
            self, "code_dependencies", tuple(Path(p) for p in self.code_dependencies)
        )
        object.__setattr__(self, "untracked_config", tuple(str(k) for k in self.untracked_config))
        for key in self.outputs:
            if not (isinstance(key, str) and key.isidentifier()):
                raise TypeError(f"Wiring.outputs keys must be identifiers, got {key!r}")

    def merge(self, other: Wiring) -> Wiring:
        """Return this wiring with ``other`` applied on top.

        Scalars (``model``, ``cache_epoch``, ``code_identity``): ``other``'s value wins when it is
        not ``None``. Sequences (``identity_inputs``, ``outputs``, ``tags``, ``code_dependencies``,
        ``untracked_config``): concatenated in
        order, duplicates dropped (an identity input with an existing label replaces it).
        Mappings (``facets``, ``runtime_kwargs``): updated key by key, ``other`` wins.
        """
        inputs = {label: path for label, path in self.identity_inputs}
        inputs.update({label: path for label, path in other.identity_inputs})
        return Wiring(
            model=other.model if other.model is not None else self.model,
            identity_inputs=tuple(inputs.items()),
            outputs=tuple(dict.fromkeys((*self.outputs, *other.outputs))),
            tags=tuple(dict.fromkeys((*self.tags, *other.tags))),
            facets={**self.facets, **other.facets},
            cache_epoch=other.cache_epoch if other.cache_epoch is not None else self.cache_epoch,
            code_identity=(
                other.code_identity if other.code_identity is not None else self.code_identity
            ),
            runtime_kwargs={**self.runtime_kwargs, **other.runtime_kwargs},
            code_dependencies=tuple(
                dict.fromkeys((*self.code_dependencies, *other.code_dependencies))
            ),
            untracked_config=tuple(
                dict.fromkeys((*self.untracked_config, *other.untracked_config))
            ),
        )

    def with_changes(self, **changes: Any) -> Wiring:
        """Return a copy with some fields replaced."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """A plain, printable view of the wiring."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "identity_inputs":
                value = [[label, str(path)] for label, path in value]
            elif f.name == "code_dependencies":
                value = [str(path) for path in value]
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out
