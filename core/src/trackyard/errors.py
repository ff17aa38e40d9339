"""Every error trackyard raises, in one hierarchy.

Catch [`TrackyardError`][trackyard.errors.TrackyardError] to handle anything trackyard raises on
purpose:

```text
    TrackyardError
    ├── UnknownDomainError       (also LookupError)  no installed plugin provides the name
    ├── DomainConflictError                          two distributions claim one domain name
    ├── PluginLoadError                              a plugin's import raised (__cause__ set)
    ├── PluginContractError                          a plugin breaks the hook/registration contract
    ├── PluginHookError                              a plugin's hook raised while it was called
    ├── PluginPolicyError                            a plugin was refused before import (disabled,
    │                                                untrusted, incompatible), or strict mode
    ├── ConfigValidationError    (also ValueError)   bad settings, options, config or run names
    │   └── ExecutorError                            the executor cannot run the call as asked
    │                                                (a model worker processes cannot import)
    ├── QueryValidationError     (also ValueError)   bad metric name, order or k in a query
    ├── UnknownRunError          (also LookupError)  no run with that id in the workspace's store
    ├── OutputMissingError                           a run's declared/returned output does not
    │                                                exist; the run is recorded failed
    │   └── StaleOutputError                         a cache hit's outputs are missing or
    │                                                changed (only with run(strict=True))
    ├── OutputLocationError      (also ValueError)   in a parallel sweep, a model returned an
    │                                                output outside its run folder
    ├── StaleCodeError                               a module the model uses changed on disk
    │                                                after this process loaded it; nothing ran
    ├── UndeclaredInputError                         with strict_inputs, the model read a
    │                                                file it did not declare; the run failed
    ├── PluginSetMismatchError                       a many-run worker has other plugins than
    │                                                its driver; the task fails
    ├── TransferError                                a file a Dask worker sent back does not
    │                                                match its recorded hash (run failed)
    ├── StoreUnavailableError                        the provenance store cannot be used (locked
    │   │                                            past the retry budget, missing, unreadable)
    │   ├── StoreCorruptError                        the DuckDB file is truncated or damaged;
    │   │                                            trackyard doctor --fix rebuilds it
    │   └── StoreReadOnlyError                       the store had to be written but its file
    │                                                or folder cannot be (read-only mount,
    │                                                permissions); reading still works
    ├── DiskFullError            (also OSError)      the disk holding the run folder or store
    │                                                filled up during a run (or while writing a
    │                                                file for the user); names the folder/file
    ├── FileWriteError           (also OSError)      a file written for the user (report, lock,
    │                                                scaffold) could not be written; names it
    ├── BundleError                                  a run bundle is damaged, truncated, not a
    │                                                bundle, or clashes with the workspace;
    │                                                nothing was imported
    └── InstallError                                 installing/uninstalling plugins failed
        └── InstallRejectedError                     a newly installed plugin failed validation;
                                                     the install was rolled back (report)
```

Warnings: [`EnvironmentChangedWarning`][trackyard.errors.EnvironmentChangedWarning] (a
``UserWarning``): a cache hit was recorded with other versions of the distributions the model
uses than are installed now. [`BundlePluginSetWarning`][trackyard.errors.BundlePluginSetWarning]
(a ``UserWarning``): an imported bundle was made with another plugin set than the one installed
here; its runs are marked so.

Every message names the offending thing (domain, distribution, option, metric...) and says how
to fix it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BundleError",
    "BundlePluginSetWarning",
    "ConfigValidationError",
    "DiskFullError",
    "DomainConflictError",
    "ExecutorError",
    "EnvironmentChangedWarning",
    "FileWriteError",
    "InstallError",
    "InstallRejectedError",
    "OutputLocationError",
    "OutputMissingError",
    "PluginContractError",
    "PluginHookError",
    "PluginLoadError",
    "PluginPolicyError",
    "PluginSetMismatchError",
    "QueryValidationError",
    "StaleCodeError",
    "StaleOutputError",
    "StoreCorruptError",
    "StoreReadOnlyError",
    "StoreUnavailableError",
    "TrackyardError",
    "TransferError",
    "UndeclaredInputError",
    "UnknownDomainError",
    "UnknownRunError",
]


class TrackyardError(Exception):
    """Base class of every error trackyard raises on purpose."""


class UnknownDomainError(TrackyardError, LookupError):
    """No installed plugin provides the requested domain name."""

    def __init__(
        self,
        name: str,
        installed: list[str],
        suggestion: str | None,
        lookalike: str | None = None,
    ) -> None:
        self.name = name
        self.installed = installed
        self.suggestion = suggestion
        listed = ", ".join(installed) if installed else "none"
        hint = f" Did you mean {suggestion!r}?" if suggestion else ""
        extra = f" {lookalike}" if lookalike else ""
        super().__init__(
            f"no domain named {name!r} is installed (installed domains: {listed}).{hint}{extra}"
        )

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0])


class DomainConflictError(TrackyardError):
    """Several distributions claim one domain name and no pin chooses between them."""

    def __init__(self, name: str, claimants: list[str]) -> None:
        self.name = name
        self.claimants = claimants
        lines = "\n".join(f"  - {c}" for c in claimants)
        super().__init__(
            f"domain {name!r} is provided by {len(claimants)} distributions:\n{lines}\n"
            f'Choose one with [tool.trackyard.providers] {name} = "<distribution>" in '
            f'pyproject.toml, or TRACKYARD_PROVIDERS="{name}=<distribution>", '
            "or uninstall all but one."
        )


class PluginLoadError(TrackyardError):
    """Importing a plugin module raised; the original exception is ``__cause__``."""

    def __init__(
        self, name: str, distribution: str, original: BaseException, kind: str = "domain"
    ) -> None:
        self.domain = name
        self.distribution = distribution
        what = f"plugin for domain {name!r}" if kind == "domain" else f"{kind} {name!r}"
        super().__init__(
            f"{what} from distribution {distribution!r} failed to load: "
            f"{type(original).__name__}: {original}"
        )


class PluginContractError(TrackyardError):
    """A plugin breaks the contract: unknown hooks, wrong hook arguments, bad registrations."""


class PluginHookError(TrackyardError):
    """A plugin's hook implementation raised while trackyard called it."""


class PluginPolicyError(TrackyardError):
    """The plugin policy refused a plugin before importing it; the message says why and how to
    change it (allow/deny lists, trusted paths, a compatible release)."""


class OutputMissingError(TrackyardError):
    """A model did not produce a declared output, or returned a path that does not exist.

    The run is recorded ``failed`` with this message, so it is never served from cache."""


class StaleOutputError(OutputMissingError):
    """A cache hit's recorded outputs are missing or were changed since they were recorded, and
    the caller asked for strictness (``run(..., strict=True)``) instead of running again."""


class OutputLocationError(TrackyardError, ValueError):
    """In a worker of a parallel sweep (``processes`` or Dask), a model returned an output
    outside its run folder (a folder its config or the caller named). Another run of the sweep
    could overwrite that file before trackyard copies it into the run, so the run is recorded
    ``failed`` instead; the message says to write to ``consist.output_path(key)``."""


class StaleCodeError(TrackyardError):
    """A module the model uses was changed on disk after this process loaded it: running
    would store the old code's result under the new code's key. Raised before anything runs;
    restart the interpreter or ``importlib.reload`` the module."""


class UndeclaredInputError(TrackyardError):
    """With ``strict_inputs``, the model read a file that is neither an input, a config
    ``Path``, code nor in its run folder; the run is recorded ``failed``."""


class EnvironmentChangedWarning(UserWarning):
    """A cache hit was recorded with other versions of the distributions its model uses
    ([`RunOutcome.environment_changed`][trackyard.RunOutcome.environment_changed]);
    ``on_environment_change`` decides what happens."""


class ConfigValidationError(TrackyardError, ValueError):
    """Settings, domain options, a run config or a run name are invalid.

    ``path_string``: when a config string naming an existing file was refused, that string as
    given and the file it names (the command line uses it to say how to pass the file).
    """

    path_string: tuple[str, str] | None = None
    # With ``path_string``: what is wrong, without the advice to the plugin's author (the
    # command line gives its own: pass the file with --set KEY=@PATH).
    problem: str | None = None


class ExecutorError(ConfigValidationError):
    """``run_many``'s executor cannot run the call as asked: the model cannot be sent to worker
    processes (defined in ``__main__`` of a script read from standard input, ``python -c``, a
    notebook, or inside a function). Raised before anything runs; the message says to move the
    model into a module (or to use ``executor="serial"``)."""


class QueryValidationError(TrackyardError, ValueError):
    """A query names an invalid metric, order or ``k``; raised before any SQL runs."""


class UnknownRunError(TrackyardError, LookupError):
    """No run with the requested id is recorded in the workspace's store (``trackyard why``,
    ``trackyard diff``, [`DomainTracker.why`][trackyard.DomainTracker.why]); ``run_id`` and
    ``workspace`` name both."""

    def __init__(self, run_id: str, workspace: object, db_path: object) -> None:
        self.run_id = run_id
        self.workspace = workspace
        super().__init__(
            f"no run {run_id!r} is recorded in workspace {workspace} (store {db_path}); list "
            f"the runs with `trackyard runs DOMAIN --workspace {workspace}`, or pass the "
            "workspace that holds the run with --workspace"
        )

    def __str__(self) -> str:  # LookupError would otherwise repr() the message
        return str(self.args[0])


class PluginSetMismatchError(TrackyardError):
    """A many-run worker's installed plugin set differs from the driver's (its fingerprint);
    the worker fails the task instead of recording runs made with other plugins."""


class TransferError(TrackyardError):
    """A file a Dask worker without the workspace sent back does not match what the run
    recorded (its SHA-256 differs, or it never arrived): the run is recorded ``failed`` and
    none of its files reach the workspace. ``run``, ``file``, ``expected`` (the recorded hash)
    and ``found`` (the hash of what arrived, or ``None``) say which."""

    def __init__(self, run: str, file: str, expected: str, found: str | None) -> None:
        arrived = f"arrived with sha256 {found}" if found else "never arrived"
        super().__init__(
            f"run {run}: file {file} {arrived}, but sha256 {expected} was recorded; the run is "
            "recorded failed and none of its files were kept (run it again)"
        )
        self.run, self.file, self.expected, self.found = run, file, expected, found


class StoreUnavailableError(TrackyardError):
    """The provenance store (DuckDB file or run folder) cannot be used."""


class StoreReadOnlyError(StoreUnavailableError):
    """The store had to be written (a run, a merge, the metrics index catching up) but its
    file or folder cannot be: a read-only mount or missing write permission (``db_path``
    names it). Nothing was written; everything that only reads (rankings, listings, ``why``)
    still works on such a store."""

    def __init__(self, message: str, db_path: object = None) -> None:
        super().__init__(message)
        self.db_path = db_path


class StoreCorruptError(StoreUnavailableError):
    """The store's DuckDB file is truncated or damaged (``db_path`` names it); it is never
    written to. ``trackyard doctor --fix`` moves it aside and rebuilds it from the snapshots."""

    def __init__(self, message: str, db_path: object = None) -> None:
        super().__init__(message)
        self.db_path = db_path


class DiskFullError(TrackyardError, OSError):
    """The disk holding the run folder or the store filled up while a run was executing
    (``errno`` is ``ENOSPC``; ``filename`` names the full folder or file). The run is not
    recorded as completed, so running it again once there is space executes it. The
    original ``OSError`` (or DuckDB's error) is ``__cause__``."""

    def __init__(self, message: str, path: object = None) -> None:
        import errno

        super().__init__(message)
        self.errno, self.strerror, self.filename = errno.ENOSPC, message, path

    def __str__(self) -> str:
        return str(self.args[0])


class FileWriteError(TrackyardError, OSError):
    """A file trackyard writes for the user (the report, a plugin lock, a new plugin's files)
    could not be written; ``filename`` names it and ``errno`` is the original error's. The file
    is written to a temporary file beside it and renamed, so the previous file is unchanged."""

    def __init__(self, code: int, message: str, path: object) -> None:
        super().__init__(message)
        self.errno, self.strerror, self.filename = code, message, path

    def __str__(self) -> str:
        return str(self.args[0])


class InstallError(TrackyardError):
    """Installing or uninstalling plugins failed: a bad spec, pip failed, or a newly installed
    plugin failed validation and was rolled back. pip's own output is attached as a note."""


class InstallRejectedError(InstallError):
    """A newly installed plugin failed validation and the install was rolled back; ``report``
    says what was installed, what failed and what was removed or restored."""

    def __init__(self, report: Any, message: str) -> None:  # report: installer.InstallReport
        super().__init__(message)
        self.report = report


class BundleError(TrackyardError):
    """A run bundle (``trackyard export`` / ``import``) cannot be used: a member is damaged,
    missing or cut short (the message names the first one), it is not a bundle, or a file it
    holds clashes with the workspace. Raised before the workspace is touched: nothing was
    imported."""


class BundlePluginSetWarning(UserWarning):
    """An imported bundle was made with another plugin set (its fingerprint) than the one
    installed here. Its runs are imported and marked (``meta["trackyard"]["imported"]
    ["plugin_set_differs"]``); restore the bundle's ``plugins.lock.toml`` with
    ``trackyard install -r`` to work with the same plugins."""
