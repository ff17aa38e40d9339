"""Install, uninstall, lock and restore domain plugins with the pip of THIS interpreter.

``install`` runs ``[sys.executable, "-m", "pip", "install", ...]``, then validates every newly
installed (or changed) plugin distribution in a fresh subprocess of the same interpreter (this
process has cached metadata and modules). With ``check=True`` a failing plugin rolls the whole
install back: every distribution the command newly installed (the plugin and the dependencies pip
pulled in for it) is uninstalled and every upgraded one is put back at its previous version, so
the environment is as it was. ``export_lock`` writes the plugin set as TOML; ``install(
requirements=LOCK)`` restores it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from trackyard._userfile import write_text_atomically
from trackyard.errors import InstallError, InstallRejectedError
from trackyard.registry import DOMAIN_GROUP, PLUGIN_GROUP, normalize

__all__ = [
    "CORE",
    "FIRST_PARTY",
    "Dist",
    "InstallRejectedError",
    "InstallReport",
    "Lock",
    "Problem",
    "UninstallReport",
    "export_lock",
    "install",
    "read_lock",
    "resolve_spec",
    "uninstall",
]

CORE = "trackyard"
FIRST_PARTY: dict[str, str] = {
    "calibration": "trackyard-calibration",
    "simulation": "trackyard-simulation",
}
"""Bare names that mean a first-party distribution (``calibration`` ->
``trackyard-calibration``)."""
LOCK_FORMAT = 1
_GROUPS = (DOMAIN_GROUP, PLUGIN_GROUP)
_BARE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Dist:
    """One installed distribution: name, exact version, where it came from, its trackyard entry
    points as ``(group, name, value)``."""

    name: str
    version: str
    url: str | None = None
    editable: bool = False
    entry_points: tuple[tuple[str, str, str], ...] = ()
    # A digest of the files pip installed (their RECORD lines: path, sha256, size), so that a
    # reinstall of the same version with other code is seen; "" when there is no RECORD.
    code: str = ""

    @property
    def key(self) -> str:
        return normalize(self.name)

    @property
    def is_plugin(self) -> bool:
        return bool(self.entry_points)

    @property
    def domains(self) -> list[str]:
        return [name for group, name, _ in self.entry_points if group == DOMAIN_GROUP]

    def requirement(self) -> list[str]:
        """pip arguments that reinstall exactly this distribution."""
        if self.url and self.url.startswith("file:"):
            path = url2pathname(unquote(urlparse(self.url).path))
            return ["-e", path] if self.editable else [path]
        if self.url:
            return [f"{self.name} @ {self.url}"]
        return [f"{self.name}=={self.version}"]


@dataclass(frozen=True)
class Problem:
    """A newly installed plugin that failed validation, and why."""

    distribution: str
    domain: str
    message: str


@dataclass
class InstallReport:
    """What ``install`` did: distributions new or changed, domains added, problems found."""

    installed: list[Dist] = field(default_factory=list)
    domains_added: list[tuple[str, str]] = field(default_factory=list)  # (domain, distribution)
    problems: list[Problem] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Distributions installed again at the same version, and what changed ("code changed",
    # "editable -> regular install", or "code unchanged").
    reinstalled: list[tuple[Dist, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class UninstallReport:
    """What ``uninstall`` removed."""

    removed: list[Dist] = field(default_factory=list)

    @property
    def domains_removed(self) -> list[str]:
        return [d for dist in self.removed for d in dist.domains]


@dataclass(frozen=True)
class Lock:
    """The plugin set in use: the core and every plugin distribution, plus the fingerprint."""

    core: Dist
    plugins: tuple[Dist, ...]
    fingerprint: str

    def to_toml(self) -> str:
        lines = [
            "# trackyard plugin lock: restore with `trackyard install -r <this file>`",
            f"format = {LOCK_FORMAT}",
            f"fingerprint = {_q(self.fingerprint)}",
            "",
        ]
        for table, dist in [("[core]", self.core)] + [("[[plugins]]", p) for p in self.plugins]:
            lines += [table, f"name = {_q(dist.name)}", f"version = {_q(dist.version)}"]
            if dist.url:
                lines += [f"url = {_q(dist.url)}", f"editable = {str(dist.editable).lower()}"]
            if dist.entry_points:
                eps = ", ".join(
                    "{ " + f"group = {_q(g)}, name = {_q(n)}, value = {_q(v)}" + " }"
                    for g, n, v in dist.entry_points
                )
                lines.append(f"entry_points = [{eps}]")
            lines.append("")
        return "\n".join(lines)

    @property
    def distributions(self) -> list[Dist]:
        return [self.core, *self.plugins]


def _q(text: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML escapes)."""
    return json.dumps(text)


# --- snapshots (metadata only) ---------------------------------------------------------------


def _snapshot() -> dict[str, Dist]:
    """Every installed distribution of this interpreter, by normalised name (first on path wins)."""
    import importlib

    from importlib_metadata import distributions

    importlib.invalidate_caches()
    out: dict[str, Dist] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if not name or normalize(name) in out:
            continue
        url, editable = None, False
        raw = dist.read_text("direct_url.json")
        if raw:
            try:
                info = json.loads(raw)
                url = info.get("url")
                editable = bool(info.get("dir_info", {}).get("editable", False))
            except (ValueError, AttributeError):
                url = None
        eps = tuple(
            sorted((ep.group, ep.name, ep.value) for ep in dist.entry_points if ep.group in _GROUPS)
        )
        out[normalize(name)] = Dist(name, dist.version, url, editable, eps, _code_digest(dist))
    return out


_NOT_CODE = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")


def _code_digest(dist: Any) -> str:
    """A digest of ``dist``'s installed files as its RECORD lists them (bytecode and pip's own
    bookkeeping left out): equal exactly when pip installed the same files."""
    import hashlib

    record = dist.read_text("RECORD") or ""
    lines = sorted(
        line
        for line in record.splitlines()
        if line
        and not line.split(",", 1)[0].endswith(".pyc")
        and line.split(",", 1)[0].rsplit("/", 1)[-1] not in _NOT_CODE
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest() if lines else ""


def _current_fingerprint() -> str:
    """The plugin-set fingerprint runs record (``trackyard.plugin_set_fingerprint``), computed
    by a fresh registry so that it sees what pip just changed."""
    from trackyard.registry import Registry

    return Registry().plugin_set_fingerprint()


# --- the probe: runs in a fresh subprocess of this interpreter --------------------------------


def _probe_main() -> None:  # pragma: no cover - runs in a subprocess
    """Subprocess side: read a request JSON file, answer into the same file.

    The request may carry ``before`` (a snapshot from before pip ran); the answer then lists the
    distributions that are new or changed since, and, when ``validate`` is true, the problems of
    their plugins.
    """
    path = Path(sys.argv[1])
    request = json.loads(path.read_text())
    snapshot = _snapshot()
    answer: dict[str, Any] = {"snapshot": {k: asdict(v) for k, v in snapshot.items()}}
    before = request.get("before")
    if before is not None:
        changed = _changed(_dists(before), snapshot)
        answer["changed"] = [d.key for d in changed]
        answer["problems"], answer["notes"] = (
            _validate([d.key for d in changed if d.is_plugin], snapshot)
            if request.get("validate")
            else ([], [])
        )
    answer["fingerprint"] = _current_fingerprint()
    path.write_text(json.dumps(answer))


def _changed(before: dict[str, Dist], after: dict[str, Dist]) -> list[Dist]:
    """Distributions in ``after`` that are new, or whose version or source differ."""
    return sorted(
        (d for k, d in after.items() if k not in before or _identity(before[k]) != _identity(d)),
        key=lambda d: d.key,
    )


def _identity(d: Dist) -> tuple[str, str | None, bool, str]:
    """What makes an installed distribution another one: version, source, editable, code."""
    return (d.version, d.url, d.editable, d.code)


def _validate(names: list[str], snapshot: dict[str, Dist]) -> tuple[list[list[str]], list[str]]:
    """Load every plugin of the distributions ``names`` with a fresh registry, as doctor does."""
    from trackyard.errors import TrackyardError
    from trackyard.registry import Registry

    registry = Registry()
    infos = registry.available_domains()
    problems: list[list[str]] = []
    notes: list[str] = []
    for key in names:
        dist = snapshot.get(key)
        if dist is None:
            continue
        for group, name, _ in dist.entry_points:
            if group != DOMAIN_GROUP:
                continue
            info = next(
                (i for i in infos if i.name == name and normalize(i.distribution) == key), None
            )
            status = info.status if info else "available"
            if status == "disabled":
                notes.append(
                    f"domain {name!r} of {dist.name} is installed but not used: "
                    f"{info.error if info else ''}"
                )
                continue
            if status not in ("available", "loaded"):
                problems.append([dist.name, name, (info.error if info else None) or status])
                continue
            try:
                registry.load(name)
            except TrackyardError as exc:
                problems.append([dist.name, name, str(exc)])
            except Exception as exc:
                problems.append([dist.name, name, f"{type(exc).__name__}: {exc}"])
        if any(group == PLUGIN_GROUP for group, _, _ in dist.entry_points):
            try:
                registry.load_cross_cutting()
            except Exception as exc:
                problems.append([dist.name, "(cross-cutting plugin)", str(exc)])
    return problems, notes


def _probe(before: dict[str, Dist] | None = None, validate: bool = False) -> dict[str, Any]:
    """Run the probe in a fresh subprocess of this interpreter and return its JSON answer."""
    request = {
        "before": None if before is None else {k: asdict(v) for k, v in before.items()},
        "validate": validate,
    }
    with tempfile.TemporaryDirectory(prefix="trackyard-probe-") as tmp:
        path = Path(tmp) / "probe.json"
        path.write_text(json.dumps(request))
        code = "from trackyard.installer import _probe_main; _probe_main()"
        proc = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            err = InstallError(
                "could not inspect the environment after installing (is the trackyard core "
                "still importable?); run with --debug for details"
            )
            err.add_note(proc.stdout + proc.stderr)
            raise err
        answer: dict[str, Any] = json.loads(path.read_text())
        return answer


def _dists(raw: dict[str, Any]) -> dict[str, Dist]:
    return {
        k: Dist(
            v["name"],
            v["version"],
            v["url"],
            v["editable"],
            tuple((g, n, val) for g, n, val in v["entry_points"]),
            v.get("code", ""),
        )
        for k, v in raw.items()
    }


# --- pip --------------------------------------------------------------------------------------


def _pip(args: Sequence[str], what: str, progress: Progress | None) -> None:
    """Run pip of this interpreter, feeding each output line to ``progress``; one-line error."""
    cmd = [sys.executable, "-m", "pip", *args]
    env = {**os.environ, "PIP_PROGRESS_BAR": "off", "PIP_NO_INPUT": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if progress is not None and line.strip():
            progress(line.strip())
    if proc.wait() != 0:
        err = InstallError(f"pip could not {what}: {_pip_reason(lines)}")
        err.add_note("pip output (" + " ".join(cmd) + "):\n" + "".join(lines))
        raise err


def _pip_reason(lines: Sequence[str]) -> str:
    """Why pip failed, in one line: its ERROR (or x-marked) line + a subprocess's last line."""
    text = [ln.strip() for ln in lines]
    head = next(
        (ln[6:].strip() for ln in text if ln.startswith("ERROR:") and ln != "ERROR: Exception:"),
        None,
    )
    cross = "\u00d7"  # pip's "x" marker of a diagnostic error
    head = head or next((ln.lstrip(cross).strip() for ln in text if ln.startswith(cross)), None)
    head = head or next((ln[6:].strip() for ln in text if ln.startswith("error:")), None)
    head = head or "see pip's output (run with --debug)"
    if "[end of output]" in text:
        before = [ln for ln in text[: text.index("[end of output]")] if ln]
        if before and before[-1] not in head:
            head += f" ({before[-1]})"
    return head


# --- specs ------------------------------------------------------------------------------------


_EXTRAS = re.compile(r"(?P<path>.+?)(?P<extras>\[[A-Za-z0-9_.,\- ]+\])")


def split_extras(spec: str) -> tuple[str, str]:
    """``("./epidemic", "[test]")`` for ``./epidemic[test]``; ``(spec, "")`` without extras."""
    found = _EXTRAS.fullmatch(spec)
    return (found["path"], found["extras"]) if found else (spec, "")


def resolve_spec(spec: str) -> str:
    """What pip is asked to install for ``spec``.

    A URL or requirement passes through; an existing local path becomes absolute, keeping its
    extras (``./epidemic[test]``, as ``trackyard new-plugin`` prints it); a bare name that
    is a first-party domain (``calibration``) becomes its distribution (``trackyard-calibration``);
    something that looks like a path but does not exist is an ``InstallError``.
    """
    spec = spec.strip()
    if not spec:
        raise InstallError("empty install spec; give a requirement, a local path or a domain name")
    if "://" in spec or " @ " in spec:
        return spec
    bare, extras = split_extras(spec)
    path = Path(bare).expanduser()
    if path.exists():
        return str(path.resolve()) + extras
    if spec.startswith((".", "~", "/")) or os.sep in spec or "/" in spec:
        raise InstallError(
            f"no such file or folder: {spec!r}; give an existing plugin folder, a wheel, "
            "a requirement such as 'acme-transit>=2', or a domain name"
        )
    if _BARE.fullmatch(spec) and spec.lower() in FIRST_PARTY:
        return FIRST_PARTY[spec.lower()]
    return spec


def _replaced(specs: Sequence[str], installed: dict[str, Dist]) -> list[str]:
    """For each local project folder among ``specs`` whose ``[project] name`` is already
    installed from somewhere else: what installing it would replace."""
    import tomllib
    from urllib.parse import unquote, urlparse

    found = []
    for spec in specs:
        folder = Path(split_extras(spec)[0])
        if not (folder.is_absolute() and (folder / "pyproject.toml").is_file()):
            continue
        try:
            project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
            name = project["project"]["name"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # pip will say what is wrong with it
        have = installed.get(normalize(str(name)))
        if have is None:
            continue
        url = urlparse(have.url or "")
        if url.scheme == "file" and Path(unquote(url.path)).resolve() == folder.resolve():
            continue  # the same project again: an upgrade or a reinstall
        source = f"from {unquote(url.path)}" if url.scheme == "file" else "from an index"
        found.append(
            f"{folder} is project {name!r}, which would replace the installed "
            f"{have.name} {have.version} ({source})"
        )
    return found


def _pip_install_args(specs: Sequence[str], editable: bool) -> list[str]:
    args: list[str] = []
    for spec in specs:
        args += ["-e", spec] if editable else [spec]
    return args


# --- lock files -------------------------------------------------------------------------------


def read_lock(path: str | os.PathLike[str]) -> Lock:
    """Read a lock written by ``export_lock``; an ``InstallError`` names what is wrong."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InstallError(f"cannot read lock file {str(p)!r}: {exc}") from exc
    try:
        if data.get("format") != LOCK_FORMAT:
            raise KeyError("format")

        def dist(table: dict[str, Any]) -> Dist:
            eps = tuple((e["group"], e["name"], e["value"]) for e in table.get("entry_points", []))
            return Dist(
                table["name"],
                table["version"],
                table.get("url"),
                bool(table.get("editable", False)),
                eps,
            )

        return Lock(
            dist(data["core"]),
            tuple(dist(t) for t in data.get("plugins", [])),
            data["fingerprint"],
        )
    except (KeyError, TypeError) as exc:
        raise InstallError(
            f"{str(p)!r} is not a trackyard lock (format {LOCK_FORMAT}; missing or bad {exc}); "
            "write one with `trackyard plugins export --output FILE`"
        ) from exc


def _is_lock(path: Path) -> bool:
    try:
        return "fingerprint" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def export_lock(path: str | os.PathLike[str] | None = None) -> Lock:
    """The plugin set in use (core + every plugin distribution, exact versions, fingerprint);
    written as TOML to ``path`` when given."""
    snapshot = _snapshot()
    core = snapshot.get(CORE)
    if core is None:  # pragma: no cover - we are running inside it
        raise InstallError("the trackyard core distribution is not installed")
    plugins = tuple(sorted((d for d in snapshot.values() if d.is_plugin), key=lambda d: d.key))
    lock = Lock(core, plugins, _current_fingerprint())
    if path is not None:
        write_text_atomically(path, lock.to_toml(), "the plugin lock")
    return lock


# --- install / uninstall ----------------------------------------------------------------------


def install(
    specs: Sequence[str] = (),
    *,
    check: bool = True,
    editable: bool = False,
    requirements: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    replace: bool = False,
) -> InstallReport:
    """Install plugins with this interpreter's pip, then validate every new plugin.

    A local project folder whose name is an installed distribution from another source is
    refused (``InstallError`` saying what it would replace) unless ``replace`` is true.

    ``specs``: requirements (``acme-transit>=2``), local paths, or first-party domain names.
    ``requirements``: a trackyard lock (restores its set) or a plain pip requirements file.
    With ``check`` a plugin that fails validation rolls the install back and ``InstallError`` is
    raised with the reason (its ``report`` attribute holds the ``InstallReport``).
    """
    resolved = [resolve_spec(s) for s in specs]
    if not replace:
        _refuse_replacing(resolved)
    args, lock = _install_args(resolved, editable, requirements)
    if not specs and requirements is None:
        raise InstallError("nothing to install; give a SPEC or -r FILE")

    say = progress or (lambda _line: None)
    say("reading the installed distributions")
    before = _dists(_probe()["snapshot"])
    if args:
        _pip(["install", *args], "install " + " ".join(s for s in args if s != "-e"), progress)
    say("validating the newly installed plugins" if check else "reading what pip installed")
    answer = _probe(before=before, validate=check)
    after = _dists(answer["snapshot"])
    report = _install_report(answer, after)
    report.reinstalled = _reinstalled(resolved, before, after)
    if report.problems:
        _roll_back_and_raise(report, before, after, progress)
    if lock is not None:
        _note_lock_differences(report, lock, after, answer["fingerprint"])
    return report


def _reinstalled(
    specs: Sequence[str], before: dict[str, Dist], after: dict[str, Dist]
) -> list[tuple[Dist, str]]:
    """The distributions of local project folders among ``specs`` that were installed
    before at the same version, and what changed: their code, editable or not, or nothing."""
    out = []
    for name in _project_names(specs):
        old, new = before.get(name), after.get(name)
        if old is None or new is None or old.version != new.version:
            continue
        if old.editable != new.editable:
            kinds = ("editable", "regular") if old.editable else ("regular", "editable")
            out.append((new, f"{kinds[0]} -> {kinds[1]} install"))
        elif old.code != new.code:
            out.append((new, "code changed"))
        else:
            out.append((new, "code unchanged"))
    return out


def _project_names(specs: Sequence[str]) -> list[str]:
    """The normalised ``[project] name`` of each local project folder among ``specs``."""
    import tomllib

    names = []
    for spec in specs:
        folder = Path(split_extras(spec)[0])
        try:
            project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
            names.append(normalize(str(project["project"]["name"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return names


def _refuse_replacing(specs: Sequence[str]) -> None:
    """``InstallError`` when a local project folder would replace an installed distribution
    from another source."""
    replaced = _replaced(specs, _snapshot())
    if replaced:
        raise InstallError(
            "refusing to replace an installed distribution with a different project: "
            + "; ".join(replaced)
            + ". Rename the project ([project] name in its pyproject.toml), or pass "
            "--replace to replace it"
        )


def _install_args(
    specs: Sequence[str], editable: bool, requirements: str | os.PathLike[str] | None
) -> tuple[list[str], Lock | None]:
    """pip's install arguments, and the lock being restored (None for plain requirements)."""
    args = _pip_install_args(specs, editable)
    if requirements is None:
        return args, None
    req = Path(requirements)
    if not req.is_file():
        raise InstallError(f"no such requirements or lock file: {str(req)!r}")
    if not _is_lock(req):
        return [*args, "-r", str(req.resolve())], None
    lock = read_lock(req)
    return [*args, *_restore_args(lock, _snapshot())], lock


def _install_report(answer: dict[str, Any], after: dict[str, Dist]) -> InstallReport:
    """What the probe after pip saw: the changed distributions, problems, notes, domains."""
    report = InstallReport()
    report.installed = [after[k] for k in answer["changed"]]
    report.problems = [Problem(*p) for p in answer["problems"]]
    report.notes += answer["notes"]
    report.domains_added = [(dom, d.name) for d in report.installed for dom in d.domains]
    return report


def _roll_back_and_raise(
    report: InstallReport,
    before: dict[str, Dist],
    after: dict[str, Dist],
    progress: Progress | None,
) -> NoReturn:
    """Undo the install, then raise ``InstallRejectedError`` naming every problem."""
    _rollback(report, before, after, progress)
    first = report.problems[0]
    err = InstallRejectedError(
        report,
        f"plugin {first.domain!r} from {first.distribution} failed validation, so the "
        f"install was rolled back (removed or restored: {', '.join(report.rolled_back)}): "
        f"{first.message}",
    )
    for other in report.problems[1:]:
        err.add_note(f"also: {other.domain!r} from {other.distribution}: {other.message}")
    raise err


def _note_lock_differences(
    report: InstallReport, lock: Lock, after: dict[str, Dist], fingerprint: str
) -> None:
    """Say which installed plugins the restored lock lacks, and whether the fingerprints differ."""
    extra = sorted(
        d.name for k, d in after.items() if d.is_plugin and k not in {p.key for p in lock.plugins}
    )
    if extra:
        report.notes.append(
            "installed but not in the lock (remove with `trackyard uninstall`): " + ", ".join(extra)
        )
    if fingerprint != lock.fingerprint:
        report.notes.append(
            f"the plugin-set fingerprint {fingerprint[:12]} differs from the lock's "
            f"{lock.fingerprint[:12]}"
        )


def _restore_args(lock: Lock, installed: dict[str, Dist]) -> list[str]:
    """pip arguments that bring every locked distribution to its locked version and source."""
    args: list[str] = []
    for dist in lock.distributions:
        have = installed.get(dist.key)
        if have is not None and have.version == dist.version and have.url == dist.url:
            continue
        if dist.url and dist.url.startswith("file:"):
            path = Path(url2pathname(unquote(urlparse(dist.url).path)))
            if not path.exists():
                raise InstallError(
                    f"the lock says {dist.name} {dist.version} was installed from {str(path)!r}, "
                    "which no longer exists; restore that folder or edit the lock"
                )
        args += dist.requirement()
    return args


def _rollback(
    report: InstallReport,
    before: dict[str, Dist],
    after: dict[str, Dist],
    progress: Progress | None,
) -> None:
    """Uninstall what this install added; put upgraded distributions back at their old version."""
    new = [after[d.key].name for d in report.installed if d.key not in before]
    if new:
        _pip(["uninstall", "-y", *new], "roll back " + ", ".join(new), progress)
    restore = [before[d.key] for d in report.installed if d.key in before]
    if restore:
        args = [a for d in restore for a in d.requirement()]
        _pip(["install", "--no-deps", *args], "restore the previous versions", progress)
    report.rolled_back = new + [f"{d.name}=={d.version}" for d in restore]


def uninstall(names: Sequence[str], *, progress: Progress | None = None) -> UninstallReport:
    """Uninstall plugin distributions named by domain or by distribution; never the core."""
    if not names:
        raise InstallError("nothing to uninstall; give a domain or distribution name")
    snapshot = _snapshot()
    plugins = [d for d in snapshot.values() if d.is_plugin]
    chosen: dict[str, Dist] = {}
    for name in names:
        if normalize(name) == CORE:
            raise InstallError(
                "refusing to uninstall the trackyard core; use `python -m pip uninstall trackyard` "
                "if you really mean it"
            )
        providers = [d for d in plugins if name in d.domains]
        if len(providers) > 1:
            raise InstallError(
                f"domain {name!r} is provided by several distributions ("
                + ", ".join(d.name for d in providers)
                + "); uninstall by distribution name"
            )
        if not providers and normalize(name) in snapshot:
            dist = snapshot[normalize(name)]
            if not dist.is_plugin:
                raise InstallError(
                    f"{dist.name} is not a trackyard plugin distribution; use pip to remove it"
                )
            providers = [dist]
        if not providers:
            domains = sorted({dom for d in plugins for dom in d.domains})
            raise InstallError(
                f"no installed domain or plugin distribution is named {name!r} (domains: "
                + (", ".join(domains) or "none")
                + "; plugin distributions: "
                + (", ".join(sorted(d.name for d in plugins)) or "none")
                + ")"
            )
        chosen[providers[0].key] = providers[0]
    removed = list(chosen.values())
    _pip(["uninstall", "-y", *(d.name for d in removed)], "uninstall", progress)
    return UninstallReport(removed)
