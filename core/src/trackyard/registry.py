"""The registry: loads the plugins discovery chose, validates them and calls their hooks.

``Registry`` extends ``Discovery`` (metadata only) with what
needs plugin code: importing a plugin, validating it against the hook contract, and the one
path that calls hooks, pluggy's. ``get_tracker`` reads as its three steps: decide (metadata),
load (the domain's plugin, then the cross-cutting plugins), build.

Every domain gets its own pluggy manager holding exactly its participants. They are registered
in one documented order, the cross-cutting plugins by descending (normalised distribution,
entry-point name) and then the domain's own plugin, so that pluggy's LIFO call order is: the
domain's plugin, then the cross-cutting plugins ascending. The domain plugin's
``build_tracker`` is registered ``trylast``: cross-cutting plugins are asked first. Each
implementation is registered wrapped (``functools.wraps``) so that an exception names the
plugin, the hook and the domain, and a result of the wrong type names the plugin.

Importing this module imports neither pluggy, consist nor the tracker: listing goes through
the default registry and stays as light as reading metadata.
"""

from __future__ import annotations

import functools
import inspect
import types
import warnings
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from trackyard._discovery import (
    DOMAIN_GROUP,
    PLUGIN_GROUP,
    Claim,
    Discovery,
    DomainInfo,
    EntryPointReader,
    Explanation,
    Review,
    normalize,
    suggest,
)
from trackyard._version import __version__
from trackyard.errors import (
    PluginContractError,
    PluginHookError,
    PluginLoadError,
    TrackyardError,
)
from trackyard.settings import Settings, resolve_settings

if TYPE_CHECKING:
    import pluggy

    from trackyard.tracker import DomainTracker, RunCall, RunOutcome
    from trackyard.wiring import Wiring

__all__ = [
    "DOMAIN_GROUP",
    "PLUGIN_GROUP",
    "DomainInfo",
    "Explanation",
    "LoadedDomain",
    "Registry",
    "available_domains",
    "available_plugins",
    "default_registry",
    "explain",
    "get_tracker",
    "normalize",
    "plugin_set_fingerprint",
    "set_default_registry",
]

_OBSERVERS = ("before_run", "after_run", "run_failed")


@dataclass(frozen=True)
class LoadedDomain:
    """A domain's plugin after import and validation: its claim, tracker class and module."""

    claim: Claim
    cls: type[DomainTracker]
    plugin: object


class _PerPlugin:
    """A hook argument made for each implementing plugin (``register`` callbacks that must name
    the plugin calling them); the wrapper around each implementation calls ``make``."""

    def __init__(self, make: Callable[[str], Any]) -> None:
        self.make = make


def _new_manager() -> pluggy.PluginManager:
    # pluggy and the hookspecs (which import pluggy) are needed only once a plugin is loaded;
    # importing them here keeps `import trackyard` and listing free of pluggy.
    import pluggy

    from trackyard import hookspecs

    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def _hook_error(plugin: str, hook: str, domain: str, exc: BaseException) -> PluginHookError:
    return PluginHookError(
        f"plugin {plugin!r} raised in hook {hook!r} for domain {domain!r}: "
        f"{type(exc).__name__}: {exc}"
    )


def _check_result(plugin: str, hook: str, domain: str, result: Any, wrapper: bool) -> None:
    """A ``build_tracker`` / ``default_wiring`` result of the wrong type names its plugin."""
    if hook == "build_tracker":
        # The caller is building a tracker: consist is loaded.
        from trackyard._consist.tracker import is_consist_tracker

        accepts: Callable[[object], bool] = is_consist_tracker
        wanted = "a consist.Tracker or None"
    elif hook == "default_wiring":
        from trackyard.wiring import Wiring  # off the listing path (bench/bench_listing.py)

        def accepts(value: object) -> bool:
            return isinstance(value, Wiring)

        wanted = "a trackyard.Wiring or None"
    else:
        return
    # A wrapper of a hook that is not firstresult hands on the list of results.
    items = (
        result if wrapper and hook == "default_wiring" and isinstance(result, list) else [result]
    )
    bad = next((r for r in items if r is not None and not accepts(r)), None)
    if bad is not None:
        raise PluginContractError(
            f"plugin {plugin!r} returned {type(bad).__name__} from {hook} for domain "
            f"{domain!r}; return {wanted}"
        )


def _guard(fn: Callable[..., Any], plugin: str, hook: str, domain: str, wrapper: bool) -> Any:
    """``fn`` as pluggy will call it: per-plugin arguments made, errors and results checked."""

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        made = [a.make(plugin) if isinstance(a, _PerPlugin) else a for a in args]
        return made, {
            k: v.make(plugin) if isinstance(v, _PerPlugin) else v for k, v in kwargs.items()
        }

    if wrapper:

        @functools.wraps(fn)
        def guarded_wrapper(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
            a, k = bind(args, kwargs)
            try:
                result = yield from fn(*a, **k)
            except TrackyardError:
                raise
            except Exception as exc:
                raise _hook_error(plugin, hook, domain, exc) from exc
            _check_result(plugin, hook, domain, result, wrapper=True)
            return result

        return guarded_wrapper

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        a, k = bind(args, kwargs)
        try:
            result = fn(*a, **k)
        except TrackyardError:
            raise
        except Exception as exc:
            raise _hook_error(plugin, hook, domain, exc) from exc
        _check_result(plugin, hook, domain, result, wrapper=False)
        return result

    return guarded


def _spec_args(pm: pluggy.PluginManager) -> dict[str, tuple[str, ...]]:
    """Every hook of the spec and its argument names."""
    out: dict[str, tuple[str, ...]] = {}
    for name in dir(pm.hook):
        spec = getattr(getattr(pm.hook, name, None), "spec", None)
        if spec is not None:
            out[name] = tuple(spec.argnames)
    return out


def _did_you_mean(pm: pluggy.PluginManager, plugin: object) -> str:
    """ " Did you mean ...?" hints for a plugin's misspelt hook names and argument names."""
    specs = _spec_args(pm)
    hints: list[str] = []
    for attr in dir(plugin):
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            continue
        hook = opts.get("specname") or attr
        if hook not in specs:
            close = suggest(hook, specs)
            if close is not None:
                hints.append(f"Did you mean hook {close!r} instead of {hook!r}?")
            continue
        try:
            params = inspect.signature(getattr(plugin, attr)).parameters
        except (TypeError, ValueError):
            continue
        for arg in params:
            if arg not in specs[hook] and arg not in ("self", "cls"):
                close = suggest(arg, specs[hook])
                guess = f"did you mean {close!r}? " if close is not None else ""
                hints.append(
                    f"Hook {hook!r} has no argument {arg!r}: {guess}"
                    f"(its arguments: {', '.join(specs[hook])})"
                )
    return "".join(f"\n{h}" for h in hints)


def _warn_undecorated(pm: pluggy.PluginManager, plugin: object, who: str) -> None:
    """Warn about a module-level function named like a hook but not marked ``@hookimpl``:
    pluggy silently ignores it, so the author's hook would never run."""
    specs = _spec_args(pm)
    for attr in sorted(specs):
        fn = getattr(plugin, attr, None)
        if not inspect.isfunction(fn) or pm.parse_hookimpl_opts(plugin, attr) is not None:
            continue
        if getattr(fn, "__module__", None) != getattr(plugin, "__name__", None):
            continue  # imported from elsewhere, not the author's definition here
        warnings.warn(
            f"{who}: function {attr!r} is named like the hook {attr!r} but is "
            f"not decorated with @trackyard.hookimpl, so trackyard never calls it; add "
            "@hookimpl above it (or rename it)",
            UserWarning,
            stacklevel=2,
        )


class _Hooks:
    """One domain's participants on their own pluggy manager; ``call`` is the only way
    trackyard calls a hook implementation."""

    def __init__(self, domain: str, members: Sequence[tuple[Claim, object]], own: object) -> None:
        """``members`` in registration order; ``own`` is the domain's plugin among them."""
        self.domain = domain
        self.pm = _new_manager()
        marker = self.pm.project_name + "_impl"
        for claim, plugin in members:
            proxy = types.ModuleType(claim.plugin_name)
            for attr in dir(plugin):
                opts = self.pm.parse_hookimpl_opts(plugin, attr)
                if opts is None:
                    continue
                hook = opts.get("specname") or attr
                wrapper = bool(opts.get("wrapper"))
                fn = _guard(getattr(plugin, attr), claim.plugin_name, hook, domain, wrapper)
                marked: dict[str, Any] = {**opts}
                if plugin is own and hook == "build_tracker" and not wrapper:
                    # The domain's own build_tracker is the fallback after cross-cutting ones.
                    marked["trylast"] = not marked.get("tryfirst")
                setattr(fn, marker, marked)
                setattr(proxy, attr, fn)
            self.pm.register(proxy, name=claim.plugin_name)

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` through pluggy: its order, markers and ``firstresult``."""
        return getattr(self.pm.hook, hook)(**kwargs)

    def order(self, hook: str) -> list[str]:
        """The plugin names whose implementation of ``hook`` runs, in call order (wrappers
        first: they run around the others)."""
        impls = getattr(self.pm.hook, hook).get_hookimpls()
        return [i.plugin_name for i in reversed(impls)]

    def call_each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` of each participant on its own, in call order (pluggy's subset
        callers): (plugin name, its results, or the exception it raised). One plugin's failure
        does not stop the others'."""
        out: list[tuple[str, Any]] = []
        for name in dict.fromkeys(self.order(hook)):
            others = [p for p in self.pm.get_plugins() if self.pm.get_name(p) != name]
            caller = self.pm.subset_hook_caller(hook, remove_plugins=others)
            try:
                out.append((name, caller(**kwargs)))
            except Exception as exc:
                out.append((name, exc))
        return out

    def implements(self, *hooks: str) -> bool:
        return any(getattr(self.pm.hook, h).get_hookimpls() for h in hooks)


class Registry(Discovery):
    """Discovers domain plugins, loads them and builds their trackers; one per process is the
    default ([`default_registry`][trackyard.registry.default_registry]).

    ``entry_points`` replaces metadata discovery (called with a group name, it returns entry
    points carrying ``.dist``), ``environ`` the environment and ``review`` sees each policy
    verdict and returns the one to use; the testing kit
    ([`PluginSandbox`][trackyard.testing.PluginSandbox]) uses them for its in-process plugins.
    ``workers`` gives, for a domain's claim, the function ``run_many``'s worker processes
    rebuild its tracker with (default [`get_tracker`][trackyard.get_tracker], through the
    default registry).
    """

    def __init__(
        self,
        entry_points: EntryPointReader | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        review: Review | None = None,
        workers: Callable[[Claim], Callable[..., Any]] | None = None,
    ) -> None:
        super().__init__(entry_points, environ, review=review)
        self._workers = workers
        self._loaded: dict[str, LoadedDomain] = {}
        self._cross: list[tuple[Claim, object]] | None = None
        self._hooks: dict[str, _Hooks] = {}

    # --- loading ------------------------------------------------------------------------------

    def choose(self, name: str) -> Claim:
        """The claim that provides ``name``; raises the error that explains why there is none."""
        winner, _, err = self.decide(name)
        if winner is None:
            assert err is not None
            raise err
        return winner

    def _fail(self, claim: Claim, message: str, cause: BaseException | None = None) -> NoReturn:
        self.mark(claim, "broken", message)
        raise PluginContractError(message) from cause

    def _import(self, claim: Claim) -> object:
        try:
            return claim.entry_point.load()
        except (Exception, SystemExit) as exc:
            err = PluginLoadError(claim.name, claim.distribution, exc, kind=claim.kind)
            self.mark(claim, "broken", str(err))
            raise err from exc

    def _validate(self, claim: Claim, plugin: object) -> None:
        """Register ``plugin`` on a scratch manager: unknown hooks, bad arguments and refused
        markers fail here, before any manager that calls hooks sees it."""
        # pluggy (its exception type) and the hookspecs: needed when loading, never listing.
        import pluggy

        from trackyard.hookspecs import REFUSED_MARKERS

        scratch = _new_manager()
        try:
            scratch.register(plugin, name=claim.plugin_name)
            scratch.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._fail(
                claim,
                f"{claim.kind} {claim.name!r} from distribution {claim.distribution!r} "
                f"({claim.value}) breaks the hook contract: {exc}" + _did_you_mean(scratch, plugin),
                exc,
            )
        _warn_undecorated(
            scratch, plugin, f"{claim.kind} {claim.name!r} from distribution {claim.distribution!r}"
        )
        for caller in scratch.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                for marker, remedy in REFUSED_MARKERS.items():
                    if impl.opts.get(marker):
                        self._fail(
                            claim,
                            f"plugin {claim.plugin_name!r} marks hook {caller.name!r} with "
                            f"{marker}=True, which trackyard refuses: {remedy}",
                        )

    def load(self, name: str) -> LoadedDomain:
        """Import and validate the plugin that provides ``name`` (once per process)."""
        if name not in self._loaded:
            claim = self.choose(name)
            plugin = self._import(claim)
            self._validate(claim, plugin)
            cls = self._register_domains(claim, plugin)
            self._loaded[name] = LoadedDomain(claim, cls, plugin)
            self.mark(claim, "loaded")
        return self._loaded[name]

    def _register_domains(self, claim: Claim, plugin: object) -> type[DomainTracker]:
        """Call the plugin's ``register_domains``; return the class registered as its domain."""
        from trackyard.tracker import DomainTracker  # loading a domain: the tracker is needed

        own = {
            c.name
            for c in self.claims(DOMAIN_GROUP)
            if c.distribution == claim.distribution and c.value == claim.value
        }
        registered: dict[str, type[DomainTracker]] = {}

        def register(domain: str, cls: type[DomainTracker]) -> None:
            if not (isinstance(cls, type) and issubclass(cls, DomainTracker)):
                self._fail(
                    claim,
                    f"plugin {claim.plugin_name!r} registered {cls!r} for domain {domain!r}; "
                    "it must be a trackyard.DomainTracker subclass",
                )
            if domain not in own:
                self._fail(
                    claim,
                    f"plugin {claim.plugin_name!r} registered domain {domain!r}, but its "
                    f"distribution declares entry point(s) {sorted(own)} for this module in "
                    f"group {DOMAIN_GROUP!r}",
                )
            registered[domain] = cls

        _Hooks(claim.name, [(claim, plugin)], plugin).call("register_domains", register=register)
        if claim.name not in registered:
            self._fail(
                claim,
                f"plugin {claim.plugin_name!r} declares entry point {claim.name!r} in group "
                f"{DOMAIN_GROUP!r} but registered no tracker under that name (registered: "
                f"{sorted(registered)}); call register({claim.name!r}, YourTracker) in its "
                "register_domains hook",
            )
        return registered[claim.name]

    def load_cross_cutting(self) -> list[tuple[Claim, object]]:
        """Import and validate every admitted cross-cutting plugin once, sorted by (normalised
        distribution, entry-point name); a broken one fails every build, loudly."""
        if self._cross is None:
            cross = []
            claims = sorted(
                self.usable(PLUGIN_GROUP), key=lambda c: (normalize(c.distribution), c.name)
            )
            for claim in claims:
                plugin = self._import(claim)
                self._validate(claim, plugin)
                if hasattr(plugin, "register_domains"):
                    self._fail(
                        claim,
                        f"cross-cutting plugin {claim.plugin_name!r} implements "
                        f"register_domains; domains are declared in group {DOMAIN_GROUP!r}",
                    )
                self.mark(claim, "loaded")
                cross.append((claim, plugin))
            self._cross = cross
        return self._cross

    def _participants(self, name: str) -> _Hooks:
        """The domain's hooks: its plugin and the cross-cutting plugins, in registration order
        (cross-cutting descending, then the domain's own, so that pluggy calls them the
        domain's own first, then the cross-cutting ones ascending)."""
        if name not in self._hooks:
            loaded = self.load(name)
            cross = self.load_cross_cutting()
            members = [*reversed(cross), (loaded.claim, loaded.plugin)]
            self._hooks[name] = _Hooks(name, members, loaded.plugin)
        return self._hooks[name]

    def hook_order(self, name: str, hook: str) -> list[str]:
        """The plugins (``distribution:module``) whose ``hook`` runs for domain ``name``, in call
        order; loads the domain and the cross-cutting plugins."""
        return self._participants(name).order(hook)

    def call_each(self, name: str, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` of each plugin taking part in domain ``name`` separately, in call order:
        (plugin, its results or the exception it raised). Used for hooks whose failures must stay
        local, such as [`report_sections`][trackyard.hookspecs.report_sections]."""
        return self._participants(name).call_each(hook, domain=name, **kwargs)

    # --- building -----------------------------------------------------------------------------

    def get_tracker(self, name: str, *, workspace: Any = None, **options: Any) -> DomainTracker:
        """Build the tracker of domain ``name``; see [`trackyard.get_tracker`][]."""
        self.choose(name)  # 1. decide, from metadata only: unknown, conflict, refused raise here
        hooks = self._participants(name)  # 2. load the domain's plugin and cross-cutting ones
        return self._build(hooks, workspace, options)  # 3. build

    def describe(
        self, name: str, **options: Any
    ) -> tuple[type[DomainTracker], Settings, Wiring, list[tuple[str, str, Callable[..., Any]]]]:
        """What [`get_tracker`][trackyard.Registry.get_tracker] would build, without building it
        (no consist, no store): the tracker class, resolved settings, merged default wiring and
        registered verbs."""
        self.choose(name)
        hooks = self._participants(name)
        loaded = self._loaded[hooks.domain]
        settings = resolve_settings(hooks.domain, loaded.cls.Options, options, environ=self.environ)
        return loaded.cls, settings, self._wiring(hooks, loaded, settings), self._verbs(hooks)

    def _build(self, hooks: _Hooks, workspace: Any, options: dict[str, Any]) -> DomainTracker:
        loaded = self._loaded[hooks.domain]
        if workspace is not None:
            options["workspace"] = workspace
        settings = resolve_settings(hooks.domain, loaded.cls.Options, options, environ=self.environ)
        consist = hooks.call("build_tracker", domain=hooks.domain, settings=settings)
        if consist is None:
            # Opens consist: only when building.
            consist = _open_store(settings)
        return loaded.cls(
            settings=settings,
            consist=consist,
            wiring=self._wiring(hooks, loaded, settings),
            provenance=self._provenance(loaded),
            observer=_Observer(hooks),
            verbs=self._verbs(hooks),
            # workers of run_many rebuild it through the default registry (or are refused)
            worker_builder=get_tracker if self._workers is None else self._workers(loaded.claim),
        )

    @staticmethod
    def _wiring(hooks: _Hooks, loaded: LoadedDomain, settings: Settings) -> Wiring:
        """The class wiring, then every ``default_wiring`` result in call order (later wins)."""
        wiring = loaded.cls.wiring
        for contribution in hooks.call("default_wiring", domain=hooks.domain, settings=settings):
            wiring = wiring.merge(contribution)
        return wiring

    @staticmethod
    def _verbs(hooks: _Hooks) -> list[tuple[str, str, Callable[..., Any]]]:
        """(plugin, verb, function) for every verb registered, in call order."""
        verbs: list[tuple[str, str, Callable[..., Any]]] = []

        def register_for(plugin: str) -> Callable[[str, Callable[..., Any]], None]:
            return lambda verb, fn: verbs.append((plugin, verb, fn))

        hooks.call("register_verbs", domain=hooks.domain, register=_PerPlugin(register_for))
        return verbs

    def _provenance(self, loaded: LoadedDomain) -> dict[str, str]:
        return {
            "distribution": loaded.claim.distribution,
            "version": loaded.claim.version,
            "entry_point": loaded.claim.value,
            "core_version": __version__,
            "plugin_set": self.plugin_set_fingerprint(),
        }


class _Observer:
    """Forwards a tracker's run events to the participants' observer hooks."""

    def __init__(self, hooks: _Hooks) -> None:
        self._hooks = hooks
        self._active = hooks.implements(*_OBSERVERS)

    def _notify(self, hook: str, **kwargs: Any) -> None:
        if self._active:
            self._hooks.call(hook, domain=self._hooks.domain, **kwargs)

    def before_run(self, call: RunCall) -> None:
        self._notify("before_run", call=call)

    def after_run(self, call: RunCall, outcome: RunOutcome) -> None:
        self._notify("after_run", call=call, outcome=outcome)

    def run_failed(self, call: RunCall, error: BaseException) -> None:
        try:
            self._notify("run_failed", call=call, error=error)
        except TrackyardError as exc:
            # The model's own error is what the caller must see; keep the observer's as a note.
            error.add_note(f"(also: {exc})")


# --- the process-wide registry and the public one-line delegates ----------------------------------

_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry behind [`trackyard.get_tracker`][] and friends."""
    global _default
    if _default is None:
        _default = Registry()
    return _default


def set_default_registry(registry: Registry | None) -> Registry | None:
    """Make ``registry`` the one behind ``trackyard.get_tracker`` and friends (``None``: a fresh
    one on next use); returns the previous one. The testing kit's fixtures use it."""
    global _default
    previous, _default = _default, registry
    return previous


def _open_store(settings: Settings) -> Any:
    """consist's Tracker on ``settings``; a file the store needs that cannot be made (a
    read-only or special folder such as ``/proc``) is an error naming the workspace and file."""
    from trackyard._consist.tracker import default_tracker
    from trackyard.errors import StoreUnavailableError, TrackyardError

    try:
        return default_tracker(settings)
    except TrackyardError:
        raise
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot create the store in workspace {settings.workspace}: "
            f"{exc.strerror or exc} ({exc.filename}); choose a workspace you can write to "
            "(TRACKYARD_WORKSPACE or -w)"
        ) from exc


def available_domains() -> list[DomainInfo]:
    """Every installed claim on a domain name with its status, from entry-point metadata only.

    Status is ``available`` until the plugin is loaded (``loaded``) or fails (``broken``);
    ``conflict`` when several distributions claim the name and no pin chooses; ``disabled`` for
    a claimant a pin did not choose.
    """
    return default_registry().available_domains()


def available_plugins() -> list[DomainInfo]:
    """Every installed cross-cutting plugin (entry-point group ``trackyard.plugins``)."""
    return default_registry().available_plugins()


def explain(name: str) -> Explanation:
    """Which distribution provides ``name``, every other claimant, and why; imports nothing."""
    return default_registry().explain(name)


def get_tracker(name: str, *, workspace: Any = None, **options: Any) -> DomainTracker:
    """Build the tracker of domain ``name``.

    Imports only the plugin that provides ``name`` (plus cross-cutting plugins), validates it,
    resolves settings (keywords > environment > pyproject.toml > defaults) and returns a
    [`DomainTracker`][trackyard.DomainTracker] owning a consist ``Tracker`` on ``workspace``
    (default ``./.trackyard``).

    Raises [`UnknownDomainError`][trackyard.errors.UnknownDomainError],
    [`DomainConflictError`][trackyard.errors.DomainConflictError],
    [`PluginLoadError`][trackyard.errors.PluginLoadError],
    [`PluginContractError`][trackyard.errors.PluginContractError] or
    [`ConfigValidationError`][trackyard.errors.ConfigValidationError].
    """
    return default_registry().get_tracker(name, workspace=workspace, **options)


def plugin_set_fingerprint() -> str:
    """sha256 of the plugins in use (sorted domain, distribution, version, entry point).

    Every run records it in ``meta["trackyard"]["plugin_set"]``; compare it with a workspace's
    runs to see whether they were made with the same plugins. Imports no plugin code.
    """
    return default_registry().plugin_set_fingerprint()
