"""The registry: finds plugins through entry-point metadata and builds domain trackers.

Discovery reads entry points once per process and sorts them by (name, distribution, version,
value), so nothing depends on ``sys.path`` or filesystem order. Listing and explaining never
import plugin code or consist; ``get_tracker`` imports only the plugin that provides the domain
plus the cross-cutting plugins.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from trackyard import hookspecs
from trackyard.errors import (
    ConfigValidationError,
    DomainConflictError,
    PluginContractError,
    PluginHookError,
    PluginLoadError,
    PluginPolicyError,
    TrackyardError,
    UnknownDomainError,
)
from trackyard.policy import Policy, Verdict, fingerprint
from trackyard.settings import ProjectConfig, project_config, resolve_settings
from trackyard.tracker import DomainTracker, RunCall, RunOutcome
from trackyard.wiring import Wiring

if TYPE_CHECKING:
    import pluggy
    from consist import Tracker
    from importlib_metadata import EntryPoint

DOMAIN_GROUP = "trackyard.domains"
PLUGIN_GROUP = "trackyard.plugins"
PROVIDERS_ENV = "TRACKYARD_PROVIDERS"

Status = Literal[
    "available", "loaded", "broken", "conflict", "disabled", "untrusted", "incompatible"
]


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name: ``Trackyard_Sim`` -> ``trackyard-sim``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class DomainInfo:
    """One claim on a domain name (or a cross-cutting plugin), read from metadata only."""

    name: str
    distribution: str
    version: str
    entry_point: str
    status: Status
    error: str | None = None

    def describe(self) -> str:
        return f"{self.distribution} {self.version} ({self.name} = {self.entry_point})"


@dataclass(frozen=True)
class Explanation:
    """Why a domain name resolves the way it does; ``str()`` gives a readable report."""

    name: str
    winner: DomainInfo | None
    claimants: tuple[DomainInfo, ...]
    reason: str

    def __str__(self) -> str:
        lines = [f"domain {self.name!r}:"]
        for claim in self.claimants:
            mark = "*" if claim == self.winner else "-"
            lines.append(f"  {mark} {claim.describe()} [{claim.status}]")
        lines.append(self.reason)
        return "\n".join(lines)


@dataclass(frozen=True)
class _Claim:
    name: str
    group: str
    distribution: str
    version: str
    value: str
    entry_point: EntryPoint

    @property
    def plugin_name(self) -> str:
        return f"{self.distribution}:{self.value}"


@dataclass(frozen=True)
class _Loaded:
    claim: _Claim
    cls: type[DomainTracker]
    plugin: object


def _entry_point_reader() -> Callable[[str], Iterable[EntryPoint]]:
    """Read every installed distribution's entry points once, then select by group.

    ``entry_points(group=...)`` walks all distributions on each call; discovery needs two groups.
    """
    found: list[Any] = []

    def read(group: str) -> Iterable[EntryPoint]:
        if not found:
            from importlib_metadata import entry_points

            found.append(entry_points())
        selected: Iterable[EntryPoint] = found[0].select(group=group)
        return selected

    return read


def _claims(eps: Iterable[EntryPoint], group: str) -> list[_Claim]:
    claims = []
    for ep in eps:
        dist = ep.dist
        claims.append(
            _Claim(
                name=ep.name,
                group=group,
                distribution=dist.name if dist is not None else "<unknown>",
                version=dist.version if dist is not None else "",
                value=ep.value,
                entry_point=ep,
            )
        )
    claims.sort(key=lambda c: (c.name, normalize(c.distribution), c.version, c.value))
    return claims


def _parse_providers_env(raw: str) -> dict[str, str]:
    pins = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        domain, sep, dist = part.partition("=")
        if not sep or not domain.strip() or not dist.strip():
            raise ConfigValidationError(
                f"{PROVIDERS_ENV}={raw!r}: expected 'domain=distribution[,domain=distribution]'"
            )
        pins[domain.strip()] = dist.strip()
    return pins


class Registry:
    """Discovers domain plugins and builds their trackers; one per process is the default.

    ``entry_points`` replaces metadata discovery (the testing kit uses it); it is called with a
    group name and returns entry points carrying ``.dist``.
    """

    def __init__(
        self,
        entry_points: Callable[[str], Iterable[EntryPoint]] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._read = entry_points or _entry_point_reader()
        self._environ = environ
        self._scanned: dict[str, list[_Claim]] | None = None
        self._states: dict[tuple[str, str], tuple[Status, str | None]] = {}
        self._loaded: dict[str, _Loaded] = {}
        self._pm: pluggy.PluginManager | None = None
        self._cross: list[tuple[str, object]] | None = None
        self._policy: Policy | None = None
        self._projects: dict[str, ProjectConfig] = {}
        self._verdicts: dict[tuple[str, str], Verdict] = {}

    # --- discovery (metadata only) ------------------------------------------------------------

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def _scan(self) -> dict[str, list[_Claim]]:
        if self._scanned is None:
            scanned = {
                group: _claims(self._read(group), group) for group in (DOMAIN_GROUP, PLUGIN_GROUP)
            }
            self._scanned = scanned
            if self.policy().strict:
                refused = [
                    v.reason
                    for claims in scanned.values()
                    for c in claims
                    if (v := self._verdict(c)).status in ("untrusted", "incompatible")
                ]
                if refused:
                    self._scanned = None
                    raise PluginPolicyError(
                        "strict mode (" + self.policy().sources.get("strict", "") + ") refuses "
                        "to continue: " + "; ".join(str(r) for r in refused)
                    )
        return self._scanned

    def _project(self) -> ProjectConfig:
        """The ``[tool.trackyard]`` table seen from the current folder, read once per folder,
        so that the policy and the provider pins of this registry come from the same read."""
        cwd = os.getcwd()
        if cwd not in self._projects:
            self._projects[cwd] = project_config()
        return self._projects[cwd]

    def policy(self) -> Policy:
        """The plugin policy (``[tool.trackyard.plugins]`` + environment), read once."""
        if self._policy is None:
            self._policy = Policy.resolve(self._project(), self.environ)
        return self._policy

    def _verdict(self, claim: _Claim) -> Verdict:
        """The policy's decision on ``claim``, made before any import (cached)."""
        key = (claim.group, claim.plugin_name + "=" + claim.name)
        if key not in self._verdicts:
            kind = "domain" if claim.group == DOMAIN_GROUP else "cross-cutting plugin"
            self._verdicts[key] = self.policy().check(claim.entry_point, claim.name, kind)
        return self._verdicts[key]

    def _by_name(
        self, group: str = DOMAIN_GROUP, *, usable: bool = False
    ) -> dict[str, list[_Claim]]:
        out: dict[str, list[_Claim]] = {}
        for claim in self._scan()[group]:
            if usable and self._verdict(claim).status is not None:
                continue
            out.setdefault(claim.name, []).append(claim)
        return out

    def plugin_set(self) -> list[tuple[str, str, str, str]]:
        """The plugins in use: every domain's provider and every cross-cutting plugin the
        policy admits, as sorted (domain, distribution, version, entry point) tuples."""
        entries = []
        for name in self._by_name(usable=True):
            winner, _, _ = self._decide(name)
            if winner is not None:
                entries.append((name, winner.distribution, winner.version, winner.value))
        for claim in self._scan()[PLUGIN_GROUP]:
            if self._verdict(claim).status is None:
                entries.append((claim.name, claim.distribution, claim.version, claim.value))
        return sorted(entries)

    def plugin_set_fingerprint(self) -> str:
        """sha256 of :meth:`plugin_set`; every run records it in meta["trackyard"]."""
        return fingerprint(self.plugin_set())

    def pins(self) -> dict[str, tuple[str, str]]:
        """Provider pins: domain -> (distribution, where the pin was set). Environment wins."""
        pins: dict[str, tuple[str, str]] = {}
        project = self._project()
        table = project.table.get("providers", {})
        if not isinstance(table, dict):
            raise ConfigValidationError(
                f"{project.path}: [tool.trackyard.providers] must be a table"
            )
        for domain, dist in table.items():
            pins[domain] = (str(dist), f"{project.path} [tool.trackyard.providers]")
        raw = self.environ.get(PROVIDERS_ENV, "")
        for domain, dist in _parse_providers_env(raw).items():
            pins[domain] = (dist, f"environment {PROVIDERS_ENV}")
        return pins

    def _decide(self, name: str) -> tuple[_Claim | None, str, Exception | None]:
        """The winning claim for ``name`` (or None), why, and the error asking for it raises."""
        claims = self._by_name(usable=True).get(name, [])
        refused = [self._verdict(c) for c in self._by_name().get(name, [])]
        if not claims and refused:
            reasons = "; ".join(str(v.reason) for v in refused)
            return None, reasons, PluginPolicyError(f"domain {name!r} cannot be used: {reasons}")
        if not claims:
            known = sorted(self._by_name())
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            unknown = UnknownDomainError(name, known, close[0] if close else None)
            return None, str(unknown), unknown
        pin = self.pins().get(name)
        if pin is not None:
            dist, source = pin
            chosen = [c for c in claims if normalize(c.distribution) == normalize(dist)]
            if not chosen:
                bad_pin = ConfigValidationError(
                    f"domain {name!r} is pinned to distribution {dist!r} by {source}, but "
                    f"{dist!r} does not provide it; claimants: "
                    + ", ".join(c.distribution for c in claims)
                )
                return None, str(bad_pin), bad_pin
            return chosen[0], f"chosen by the pin {name} = {dist!r} in {source}", None
        if len(claims) > 1:
            conflict = DomainConflictError(name, [self._info(c).describe() for c in claims])
            return None, str(conflict), conflict
        return claims[0], "the only installed distribution that provides it", None

    def _info(
        self, claim: _Claim, status: Status = "available", error: str | None = None
    ) -> DomainInfo:
        state = self._states.get((claim.group, claim.plugin_name))
        if state is not None:
            status, error = state
        return DomainInfo(claim.name, claim.distribution, claim.version, claim.value, status, error)

    def available_domains(self) -> list[DomainInfo]:
        """Every claim on a domain name, with its status; reads metadata only."""
        out = []
        for name, claims in sorted(self._by_name().items()):
            winner, reason, _ = self._decide(name)
            for claim in claims:
                verdict = self._verdict(claim)
                if verdict.status is not None:
                    out.append(self._info(claim, verdict.status, verdict.reason))
                elif winner is None:
                    out.append(self._info(claim, "conflict", reason))
                elif claim is winner:
                    out.append(self._info(claim))
                else:
                    out.append(self._info(claim, "disabled", f"not selected: {name} is {reason}"))
        return out

    def available_plugins(self) -> list[DomainInfo]:
        """Every cross-cutting plugin (group ``trackyard.plugins``), from metadata only."""
        out = []
        for claim in self._scan()[PLUGIN_GROUP]:
            verdict = self._verdict(claim)
            status = verdict.status or "available"
            out.append(self._info(claim, status, verdict.reason))
        return out

    def explain(self, name: str) -> Explanation:
        """Which distribution provides ``name``, every other claimant, and why."""
        winner, reason, _ = self._decide(name)
        infos = [i for i in self.available_domains() if i.name == name]
        chosen = next((i for i in infos if winner and i.distribution == winner.distribution), None)
        if winner is not None and len(infos) > 1:
            reason += "; change it with [tool.trackyard.providers] or TRACKYARD_PROVIDERS"
        return Explanation(name, chosen, tuple(infos), reason)

    # --- loading ------------------------------------------------------------------------------

    def _plugin_manager(self) -> pluggy.PluginManager:
        if self._pm is None:
            self._pm = self._new_pm()
        return self._pm

    @staticmethod
    def _new_pm() -> pluggy.PluginManager:
        import pluggy

        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        return pm

    def _import(self, claim: _Claim, kind: str) -> object:
        try:
            return claim.entry_point.load()
        except (Exception, SystemExit) as exc:
            err = PluginLoadError(claim.name, claim.distribution, exc, kind=kind)
            self._states[(claim.group, claim.plugin_name)] = ("broken", str(err))
            raise err from exc

    def _validate(self, claim: _Claim, plugin: object, kind: str) -> pluggy.PluginManager:
        """Register ``plugin`` on a scratch manager: unknown hooks or bad arguments fail here,
        so nothing is left half-registered on the real one."""
        import pluggy

        scratch = self._new_pm()
        try:
            scratch.register(plugin, name=claim.plugin_name)
            scratch.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._fail(
                claim,
                f"{kind} {claim.name!r} from distribution {claim.distribution!r} "
                f"({claim.value}) breaks the hook contract: {exc}",
                exc,
            )
        return scratch

    def _fail(self, claim: _Claim, message: str, cause: BaseException | None = None) -> None:
        err = PluginContractError(message)
        self._states[(claim.group, claim.plugin_name)] = ("broken", message)
        raise err from cause

    def load(self, name: str) -> _Loaded:
        """Import and validate the plugin that provides ``name`` (once per process)."""
        if name in self._loaded:
            return self._loaded[name]
        winner, _, err = self._decide(name)
        if winner is None:
            assert err is not None
            raise err
        plugin = self._import(winner, "domain")
        scratch = self._validate(winner, plugin, "domain")
        own = {
            c.name
            for c in self._scan()[DOMAIN_GROUP]
            if c.distribution == winner.distribution and c.value == winner.value
        }
        registered: dict[str, type[DomainTracker]] = {}

        def register(domain: str, cls: type[DomainTracker]) -> None:
            if not (isinstance(cls, type) and issubclass(cls, DomainTracker)):
                self._fail(
                    winner,
                    f"plugin {winner.plugin_name!r} registered {cls!r} for domain "
                    f"{domain!r}; it must be a trackyard.DomainTracker subclass",
                )
            if domain not in own:
                self._fail(
                    winner,
                    f"plugin {winner.plugin_name!r} registered domain {domain!r}, "
                    f"but its distribution declares entry point(s) {sorted(own)} for "
                    f"this module in group {DOMAIN_GROUP!r}",
                )
            registered[domain] = cls

        try:
            scratch.hook.register_domains(register=register)
        except PluginContractError:
            raise
        except Exception as exc:
            raise self._hook_error(winner.plugin_name, "register_domains", name, exc) from exc
        if name not in registered:
            self._fail(
                winner,
                f"plugin {winner.plugin_name!r} declares entry point {name!r} in "
                f"group {DOMAIN_GROUP!r} but registered no tracker under that name "
                f"(registered: {sorted(registered)}); call register({name!r}, YourTracker) "
                "in its register_domains hook",
            )
        pm = self._plugin_manager()
        if not pm.is_registered(plugin):
            pm.register(plugin, name=winner.plugin_name)
        loaded = _Loaded(winner, registered[name], plugin)
        self._loaded[name] = loaded
        self._states[(winner.group, winner.plugin_name)] = ("loaded", None)
        return loaded

    def _cross_cutting(self) -> list[tuple[str, object]]:
        """Import every cross-cutting plugin once; a broken one fails every build, loudly."""
        if self._cross is None:
            pm = self._plugin_manager()
            cross = []
            claims = sorted(
                (c for c in self._scan()[PLUGIN_GROUP] if self._verdict(c).status is None),
                key=lambda c: (normalize(c.distribution), c.name),
            )
            for claim in claims:
                plugin = self._import(claim, "cross-cutting plugin")
                self._validate(claim, plugin, "cross-cutting plugin")
                if hasattr(plugin, "register_domains"):
                    self._fail(
                        claim,
                        f"cross-cutting plugin {claim.plugin_name!r} implements "
                        f"register_domains; domains are declared in group {DOMAIN_GROUP!r}",
                    )
                if not pm.is_registered(plugin):
                    pm.register(plugin, name=claim.plugin_name)
                self._states[(claim.group, claim.plugin_name)] = ("loaded", None)
                cross.append((claim.plugin_name, plugin))
            self._cross = cross
        return self._cross

    # --- calling hooks ------------------------------------------------------------------------

    @staticmethod
    def _hook_error(plugin: str, hook: str, domain: str, exc: BaseException) -> PluginHookError:
        return PluginHookError(
            f"plugin {plugin!r} raised in hook {hook!r} for domain {domain!r}: "
            f"{type(exc).__name__}: {exc}"
        )

    def _calls(
        self, hook: str, participants: list[tuple[str, object]], domain: str, **kwargs: Any
    ) -> Iterator[tuple[str, Any]]:
        """Call ``hook`` on each participant in order; yields (plugin name, result)."""
        caller = getattr(self._plugin_manager().hook, hook)
        impls = caller.get_hookimpls()
        args = {"domain": domain, **kwargs}
        for plugin_name, _ in participants:
            for impl in (i for i in impls if i.plugin_name == plugin_name):
                bound = {
                    a: (args[a](plugin_name) if a == "register" else args[a]) for a in impl.argnames
                }
                try:
                    result = impl.function(**bound)
                except TrackyardError:
                    raise
                except Exception as exc:
                    raise self._hook_error(plugin_name, hook, domain, exc) from exc
                yield plugin_name, result

    # --- building -----------------------------------------------------------------------------

    def get_tracker(self, name: str, *, workspace: Any = None, **options: Any) -> DomainTracker:
        """Build the tracker of domain ``name``; see ``trackyard.get_tracker``."""
        loaded = self.load(name)
        cross = self._cross_cutting()
        if workspace is not None:
            options["workspace"] = workspace
        settings = resolve_settings(name, loaded.cls.Options, options, environ=self.environ)
        own = (loaded.claim.plugin_name, loaded.plugin)
        participants = [own, *cross]

        from consist import Tracker

        tracker: Tracker | None = None
        for plugin_name, result in self._calls(
            "build_tracker", [*cross, own], name, settings=settings
        ):
            if result is None:
                continue
            if not isinstance(result, Tracker):
                raise PluginContractError(
                    f"plugin {plugin_name!r} returned {type(result).__name__} from build_tracker "
                    f"for domain {name!r}; return a consist.Tracker or None"
                )
            tracker = result
            break
        if tracker is None:
            from trackyard._store import default_tracker

            tracker = default_tracker(settings)

        wiring = loaded.cls.wiring
        for plugin_name, result in self._calls(
            "default_wiring", participants, name, settings=settings
        ):
            if result is None:
                continue
            if not isinstance(result, Wiring):
                raise PluginContractError(
                    f"plugin {plugin_name!r} returned {type(result).__name__} from default_wiring "
                    f"for domain {name!r}; return a trackyard.Wiring or None"
                )
            wiring = wiring.merge(result)

        from trackyard import __version__

        provenance = {
            "distribution": loaded.claim.distribution,
            "version": loaded.claim.version,
            "entry_point": loaded.claim.value,
            "core_version": __version__,
            "plugin_set": self.plugin_set_fingerprint(),
        }
        instance = loaded.cls(
            settings=settings,
            consist=tracker,
            wiring=wiring,
            provenance=provenance,
            observer=_Observer(self, name, participants),
        )
        verbs: list[tuple[str, str, Callable[..., Any]]] = []

        def register_for(plugin_name: str) -> Callable[[str, Callable[..., Any]], None]:
            return lambda verb, fn: verbs.append((plugin_name, verb, fn))

        for _ in self._calls("register_verbs", participants, name, register=register_for):
            pass
        for plugin_name, verb, fn in verbs:
            instance._add_verb(verb, fn, plugin_name)
        return instance


class _Observer:
    """Forwards a tracker's run events to the participants' observer hooks."""

    def __init__(
        self, registry: Registry, domain: str, participants: list[tuple[str, object]]
    ) -> None:
        self._registry = registry
        self._domain = domain
        self._participants = participants
        self._active = any(
            getattr(p, hook, None) is not None
            for _, p in participants
            for hook in ("before_run", "after_run", "run_failed")
        )

    def _notify(self, hook: str, **kwargs: Any) -> None:
        if self._active:
            for _ in self._registry._calls(hook, self._participants, self._domain, **kwargs):
                pass

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


_default: Registry | None = None


def default_registry() -> Registry:
    """The process-wide registry behind ``trackyard.get_tracker`` and friends."""
    global _default
    if _default is None:
        _default = Registry()
    return _default
