"""Discovery from entry-point metadata only: claims, pins, conflicts, statuses, the plugin set.

Everything here works on installed metadata and the file system; nothing imports a plugin
module, pluggy or consist. ``Registry`` (``trackyard.registry``) builds on ``Discovery``
to load plugins and call their hooks.

Claims are sorted by (name, normalised distribution, version, value), so nothing depends on
``sys.path`` or filesystem order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from trackyard.errors import (
    ConfigValidationError,
    DomainConflictError,
    PluginPolicyError,
    UnknownDomainError,
)
from trackyard.policy import Policy, Verdict
from trackyard.settings import ProjectConfig, project_config

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "DOMAIN_GROUP",
    "PLUGIN_GROUP",
    "PROVIDERS_ENV",
    "Claim",
    "Discovery",
    "DomainInfo",
    "EntryPointReader",
    "Explanation",
    "Review",
    "Status",
    "fingerprint",
    "normalize",
    "read_entry_points",
    "suggest",
]

DOMAIN_GROUP = "trackyard.domains"
PLUGIN_GROUP = "trackyard.plugins"
PROVIDERS_ENV = "TRACKYARD_PROVIDERS"

Status = Literal[
    "available", "loaded", "broken", "conflict", "disabled", "untrusted", "incompatible"
]
EntryPointReader = Callable[[str], Iterable["EntryPoint"]]
Review = Callable[["EntryPoint", Verdict], Verdict]
"""Given an entry point and the policy's verdict on it, the verdict to use instead."""


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name: ``Trackyard_Sim`` -> ``trackyard-sim``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The one close match of ``name`` among ``candidates`` (for "did you mean"), or None."""
    import difflib  # only for error messages: kept off the listing path (~1 ms, heapq)

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def _lookalike_hint(name: str) -> str | None:
    """When an installed distribution without a domain entry point looks like it meant to
    provide ``name`` (a part of its name, or a top-level package, matches), say so and how to
    fix it. A metadata scan of every distribution: only ever on the error path."""
    from importlib.metadata import distributions

    key = normalize(name)
    found: dict[str, str] = {}
    for dist in distributions():
        dist_name = dist.metadata["Name"] or ""
        if not dist_name or normalize(dist_name) in found:
            continue
        if any(ep.group == DOMAIN_GROUP for ep in dist.entry_points):
            continue
        tops = {normalize(t) for t in (dist.read_text("top_level.txt") or "").split()}
        parts = set(normalize(dist_name).split("-"))
        if key in parts or key in tops:
            found[normalize(dist_name)] = f"{dist_name!r} {dist.version}"
    if not found:
        return None
    which = ", ".join(found.values())
    return (
        f"Installed {which} looks like it meant to provide it but declares no entry point "
        f'for it: add {name} = "<package>.plugin" to its '
        '[project.entry-points."trackyard.domains"] table in pyproject.toml, then reinstall '
        "it (pip install -e FOLDER or trackyard install FOLDER): entry points are written only "
        "at install time."
    )


def fingerprint(entries: Iterable[tuple[str, str, str, str]]) -> str:
    """sha256 of the sorted (domain, distribution, version, entry point) tuples."""
    import hashlib  # listing never fingerprints: kept off its path (~3 ms, OpenSSL)
    import json

    payload = json.dumps(sorted([list(e) for e in entries]), separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def read_entry_points() -> EntryPointReader:
    """A reader that walks every installed distribution's entry points once, then selects.

    Cost: one ``entry_points()`` call reads the ``entry_points.txt`` of every distribution on
    ``sys.path`` (a few ms for a few hundred distributions); discovery needs two groups, so the
    result is kept for the reader's lifetime (one registry). The standard library's
    ``importlib.metadata`` is used: on Python 3.11 its ``EntryPoint.dist`` is all discovery
    needs, and a scan that also reads each distribution's name and version is cheaper with it
    than with the ``importlib_metadata`` backport (69 vs 83 ms per process in
    ``bench/bench_listing.py``), which would also import ``zipp`` and ``lazy_importer``.
    """
    found: list[Any] = []

    def read(group: str) -> Iterable[EntryPoint]:
        if not found:
            # Imported on the first read: `import trackyard` alone never pays for it.
            from importlib.metadata import entry_points

            found.append(entry_points())
        selected: Iterable[EntryPoint] = found[0].select(group=group)
        return selected

    return read


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
class Claim:
    """One entry point in group ``trackyard.domains`` or ``trackyard.plugins``."""

    name: str
    group: str
    distribution: str
    version: str
    value: str
    entry_point: EntryPoint

    @property
    def plugin_name(self) -> str:
        """``distribution:value``, the name errors and hooks use for the plugin."""
        return f"{self.distribution}:{self.value}"

    @property
    def kind(self) -> str:
        return "domain" if self.group == DOMAIN_GROUP else "cross-cutting plugin"


def _claims(eps: Iterable[EntryPoint], group: str) -> list[Claim]:
    claims = []
    for ep in eps:
        dist = ep.dist
        claims.append(
            Claim(
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


class Discovery:
    """What is installed and which claim wins each domain name, from metadata only.

    ``entry_points`` replaces metadata discovery (the testing kit uses it); it is called with a
    group name and returns entry points carrying ``.dist``. ``review`` sees every policy verdict
    and returns the one to use (the testing kit admits its in-process plugins with it).
    """

    def __init__(
        self,
        entry_points: EntryPointReader | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        review: Review | None = None,
    ) -> None:
        self._read = entry_points or read_entry_points()
        self._environ = environ
        self._review = review
        self._scanned: dict[str, list[Claim]] | None = None
        self._states: dict[tuple[str, str], tuple[Status, str | None]] = {}
        self._policy: Policy | None = None
        self._projects: dict[str, ProjectConfig] = {}
        self._verdicts: dict[tuple[str, str], Verdict] = {}

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment this registry reads (``os.environ`` unless one was given)."""
        return os.environ if self._environ is None else self._environ

    # --- claims and policy ----------------------------------------------------------------------

    def claims(self, group: str = DOMAIN_GROUP) -> list[Claim]:
        """Every claim in ``group``, sorted; strict mode raises here on any refusal."""
        if self._scanned is None:
            scanned = {g: _claims(self._read(g), g) for g in (DOMAIN_GROUP, PLUGIN_GROUP)}
            self._scanned = scanned
            refused = [
                str(v.reason)
                for found in scanned.values()
                for c in found
                if self.policy().strict
                and (v := self.verdict(c)).status in ("untrusted", "incompatible")
            ]
            if refused:
                self._scanned = None
                raise PluginPolicyError(
                    "strict mode (" + self.policy().sources.get("strict", "") + ") refuses "
                    "to continue: " + "; ".join(refused)
                )
        return self._scanned[group]

    def project(self) -> ProjectConfig:
        """The ``[tool.trackyard]`` table seen from the current folder, read once per folder,
        so that the policy and the provider pins come from the same read."""
        cwd = os.getcwd()
        if cwd not in self._projects:
            self._projects[cwd] = project_config()
        return self._projects[cwd]

    def policy(self) -> Policy:
        """The plugin policy (``[tool.trackyard.plugins]`` + environment), read once."""
        if self._policy is None:
            self._policy = Policy.resolve(self.project(), self.environ)
        return self._policy

    def verdict(self, claim: Claim) -> Verdict:
        """The policy's decision on ``claim``, made before any import (cached)."""
        key = (claim.group, claim.plugin_name + "=" + claim.name)
        if key not in self._verdicts:
            verdict = self.policy().check(claim.entry_point, claim.name, claim.kind)
            if self._review is not None:
                verdict = self._review(claim.entry_point, verdict)
            self._verdicts[key] = verdict
        return self._verdicts[key]

    def usable(self, group: str) -> list[Claim]:
        """The claims in ``group`` the policy admits."""
        return [c for c in self.claims(group) if self.verdict(c).status is None]

    def mark(self, claim: Claim, status: Status, error: str | None = None) -> None:
        """Record what loading ``claim`` did (``loaded`` or ``broken``) for listings."""
        self._states[(claim.group, claim.plugin_name)] = (status, error)

    def _by_name(self, claims: Sequence[Claim]) -> dict[str, list[Claim]]:
        out: dict[str, list[Claim]] = {}
        for claim in claims:
            out.setdefault(claim.name, []).append(claim)
        return out

    # --- deciding -------------------------------------------------------------------------------

    def pins(self) -> dict[str, tuple[str, str]]:
        """Provider pins: domain -> (distribution, where the pin was set). Environment wins."""
        pins: dict[str, tuple[str, str]] = {}
        project = self.project()
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

    def decide(self, name: str) -> tuple[Claim | None, str, Exception | None]:
        """The winning claim for ``name`` (or None), why, and the error asking for it raises."""
        claims = [c for c in self.usable(DOMAIN_GROUP) if c.name == name]
        if not claims:
            return self._no_claim(name)
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

    def _no_claim(self, name: str) -> tuple[None, str, Exception]:
        refused = [self.verdict(c) for c in self.claims(DOMAIN_GROUP) if c.name == name]
        if refused:
            reasons = "; ".join(str(v.reason) for v in refused)
            return None, reasons, PluginPolicyError(f"domain {name!r} cannot be used: {reasons}")
        unknown = self.unknown_domain(name)
        return None, str(unknown), unknown

    def unknown_domain(self, name: str) -> UnknownDomainError:
        """The error for a name no installed distribution claims, with a suggestion."""
        known = sorted({c.name for c in self.claims(DOMAIN_GROUP)})
        return UnknownDomainError(name, known, suggest(name, known), _lookalike_hint(name))

    # --- reporting ------------------------------------------------------------------------------

    def _info(
        self, claim: Claim, status: Status = "available", error: str | None = None
    ) -> DomainInfo:
        state = self._states.get((claim.group, claim.plugin_name))
        if state is not None:
            status, error = state
        return DomainInfo(claim.name, claim.distribution, claim.version, claim.value, status, error)

    def available_domains(self) -> list[DomainInfo]:
        """Every claim on a domain name, with its status; reads metadata only."""
        out = []
        for name, claims in sorted(self._by_name(self.claims(DOMAIN_GROUP)).items()):
            winner, reason, _ = self.decide(name)
            for claim in claims:
                verdict = self.verdict(claim)
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
        for claim in self.claims(PLUGIN_GROUP):
            verdict = self.verdict(claim)
            out.append(self._info(claim, verdict.status or "available", verdict.reason))
        return out

    def explain(self, name: str) -> Explanation:
        """Which distribution provides ``name``, every other claimant, and why."""
        winner, reason, _ = self.decide(name)
        infos = [i for i in self.available_domains() if i.name == name]
        chosen = next((i for i in infos if winner and i.distribution == winner.distribution), None)
        if winner is not None and len(infos) > 1:
            reason += "; change it with [tool.trackyard.providers] or TRACKYARD_PROVIDERS"
        return Explanation(name, chosen, tuple(infos), reason)

    def plugin_set(self) -> list[tuple[str, str, str, str]]:
        """The plugins in use: every domain's provider and every cross-cutting plugin the
        policy admits, as sorted (domain, distribution, version, entry point) tuples."""
        entries = []
        for name in self._by_name(self.usable(DOMAIN_GROUP)):
            winner, _, _ = self.decide(name)
            if winner is not None:
                entries.append((name, winner.distribution, winner.version, winner.value))
        for claim in self.usable(PLUGIN_GROUP):
            entries.append((claim.name, claim.distribution, claim.version, claim.value))
        return sorted(entries)

    def plugin_set_fingerprint(self) -> str:
        """sha256 of ``plugin_set``; every run records it in meta["trackyard"]."""
        return fingerprint(self.plugin_set())
