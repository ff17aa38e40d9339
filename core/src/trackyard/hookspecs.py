"""The plugin contract: every hook a trackyard plugin may implement.

A plugin is a module named by an entry point, in group ``trackyard.domains`` (the entry-point name
is the domain it provides) or ``trackyard.plugins`` (a cross-cutting plugin that takes part in
every domain). It implements any of these hooks with
[`@trackyard.hookimpl`][trackyard.hookimpl]. Each hook is documented, with its exact signature
and an example, in ``docs/hooks.md``.

Participants in a domain are its own plugin module, then the cross-cutting plugins sorted by
(normalised distribution, entry-point name). Each domain gets its own pluggy manager holding
exactly its participants, registered so that pluggy's LIFO order is that order; pluggy's loop is
the only caller of hook implementations. [`build_tracker`][trackyard.hookspecs.build_tracker]
of the domain's own plugin is registered ``trylast``, so cross-cutting plugins are asked first
(see docs/hooks.md).

Markers of ``@trackyard.hookimpl``: ``tryfirst``, ``trylast``, ``wrapper=True`` and
``specname`` are honoured as pluggy defines them, and ``firstresult`` (on
[`build_tracker`][trackyard.hookspecs.build_tracker]) stops at the first non-``None`` result.
The markers in [`REFUSED_MARKERS`][trackyard.hookspecs.REFUSED_MARKERS] make loading fail with
[`PluginContractError`][trackyard.errors.PluginContractError] naming the plugin, the hook and
the marker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from trackyard._consist.tracker import ConsistTracker as Tracker  # consist.Tracker
    from trackyard._report_elements import Section
    from trackyard.settings import Settings
    from trackyard.tracker import DomainTracker, RunCall, RunOutcome
    from trackyard.wiring import Wiring

PROJECT_NAME = "trackyard"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""The marker for hook implementations: ``@trackyard.hookimpl`` (optionally with
``tryfirst=True``, ``trylast=True`` or ``wrapper=True``; see ``docs/hooks.md``)."""

REFUSED_MARKERS = {
    "hookwrapper": (
        "old-style wrappers are deprecated by pluggy; write a new-style wrapper with "
        "@trackyard.hookimpl(wrapper=True), whose 'result = yield' gets the result itself"
    ),
    "optionalhook": (
        "trackyard's hooks are fixed (trackyard.hookspecs), so a hookimpl must implement one "
        "of them; remove the marker"
    ),
}
"""Marker -> why trackyard refuses it and what to write instead."""


@hookspec
def register_domains(register: Callable[[str, type[DomainTracker]], None]) -> None:
    """Register the plugin's tracker class(es): ``register("calibration", CalibrationTracker)``.

    Called only on the plugin that an entry point in ``trackyard.domains`` names. Every name
    registered must be one of that distribution's entry-point names, and every class a
    [`DomainTracker`][trackyard.DomainTracker] subclass.
    """


@hookspec(firstresult=True)
def build_tracker(domain: str, settings: Settings) -> Tracker | None:
    """Construct the ``consist.Tracker`` for ``domain``, or return ``None`` to pass.

    Cross-cutting plugins are asked first, then the domain's own plugin; the first non-``None``
    result wins and the core default (``settings.run_dir`` and ``settings.db_path``) comes last.
    """


@hookspec
def default_wiring(domain: str, settings: Settings) -> Wiring | None:
    """Contribute wiring (model name, identity inputs, output keys, tags, facets, cache epoch,
    code identity, runtime kwargs) to every run of ``domain``; return ``None`` to pass.

    Merged over the tracker class's own ``wiring``: the domain's plugin first, then cross-cutting
    plugins; see [`Wiring.merge`][trackyard.Wiring.merge] for the rule.
    """


@hookspec
def register_verbs(domain: str, register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Add verbs to ``domain``'s tracker: ``register("export", fn)``, ``fn(tracker, ...)``.

    A verb may not shadow a method of the tracker class or a verb registered earlier.
    """


@hookspec
def before_run(domain: str, call: RunCall) -> None:
    """Observe a run before consist starts it. Raising aborts the run before anything is written."""


@hookspec
def after_run(domain: str, call: RunCall, outcome: RunOutcome) -> None:
    """Observe a run that completed or was served from cache."""


@hookspec
def run_failed(domain: str, call: RunCall, error: BaseException) -> None:
    """Observe a run whose model raised; the error is re-raised to the caller afterwards."""


@hookspec
def report_sections(domain: str, tracker: DomainTracker) -> list[Section] | None:
    """Contribute sections to ``trackyard report`` for ``domain``: a list of
    [`trackyard.report.Section`][] (tables and charts), or ``None`` to pass.

    Every participant is called on its own; one that raises, or returns something that is not
    a list of sections, is shown as an error box in the report and stops nothing else.
    """
