"""One door to consist: only ``trackyard._consist`` imports consist or touches its internals.

``lint-imports`` (contract ``consist-door``) refuses imports of consist in the modules it lists;
these tests make sure the list covers every top-level module of the core, and refuse what
import-linter cannot see: private consist attributes (``._name`` on a consist object) and
consist's internal packages (``consist.core.``, ``consist.models.``) spelled in code outside
the adapter, in the core and in the first-party plugins. The plugins are consist users like
any plugin author (``DomainTracker.consist``, ``consist.output_path`` inside a model): its
public API is theirs, its internals are not.
"""

from __future__ import annotations

import io
import re
import tokenize
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core" / "src" / "trackyard"
DOOR = CORE / "_consist"
PLUGINS = ROOT / "plugins"

IMPORT = re.compile(r"^\s*(?:import\s+consist\b|from\s+consist\b)")
INTERNAL_PACKAGE = re.compile(r"\bconsist\s*\.\s*(?:core|models)\s*\.")
# A private attribute read or written on a consist object: the chain starts at a name that
# holds one (a consist Tracker, its identity or metadata store, its database manager).
PRIVATE_CHAIN = re.compile(
    r"\b(?:consist|consist_tracker|_consist|metadata_store|identity|DatabaseManager|"
    r"CacheMissExplainer|tracker_lifecycle)(?:\s*\.\s*[A-Za-z]\w*)*\s*\.\s*_[a-z]\w*"
)


def _code_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, code) of ``path`` with strings and comments blanked out."""
    source = path.read_text(encoding="utf-8")
    lines: dict[int, list[str]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.STRING, tokenize.COMMENT):
            continue
        if token.type in (tokenize.NAME, tokenize.OP, tokenize.NUMBER):
            lines.setdefault(token.start[0], []).append(token.string)
    for number, parts in sorted(lines.items()):
        yield number, " ".join(parts).replace(" . ", ".")


def _python_files(*roots: Path) -> list[Path]:
    return sorted(
        p
        for root in roots
        for p in root.rglob("*.py")
        if DOOR not in p.parents and "templates" not in p.parts
    )


def _offences(files: list[Path], base: Path, *patterns: re.Pattern[str]) -> list[str]:
    """``file:line: code`` of every line whose code matches one of ``patterns``."""
    found = []
    for path in files:
        for number, code in _code_lines(path):
            if any(p.search(code) for p in patterns):
                found.append(f"{path.relative_to(base)}:{number}: {code}")
    return found


def test_only_the_adapter_imports_consist() -> None:
    offences = []
    for path in _python_files(CORE):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if IMPORT.match(line):
                offences.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offences, "consist imported outside trackyard/_consist:\n" + "\n".join(offences)


def test_no_private_consist_attributes_outside_the_adapter() -> None:
    offences = _offences(_python_files(CORE, PLUGINS), ROOT, PRIVATE_CHAIN, INTERNAL_PACKAGE)
    assert not offences, "consist internals used outside trackyard/_consist:\n" + "\n".join(
        offences
    )


def test_the_patterns_catch_what_they_are_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import consist\n"
        "db._lock_retries = 3\n"
        "self.consist.metadata_store.db._lock_retries = 3\n"
        "consist_tracker._flush_json()\n"
        "from x import y; y = consist.core.identity\n"
        "self._consist.identity.compute_file_checksum(p)\n"
        '"""consist.core.persistence in a docstring"""\n',
        encoding="utf-8",
    )
    found = _offences([sample], tmp_path, PRIVATE_CHAIN, INTERNAL_PACKAGE)
    assert [f.split(":")[1] for f in found] == ["3", "4", "5"]


def test_the_import_contract_lists_every_module_but_the_adapter() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    door = next(c for c in contracts if c["id"] == "consist-door")
    assert door["forbidden_modules"] == ["consist"]
    assert config["tool"]["importlinter"]["include_external_packages"] is True
    modules = {
        f"trackyard.{p.stem if p.is_file() else p.name}"
        for p in CORE.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert set(door["source_modules"]) == modules - {"trackyard._consist"}
