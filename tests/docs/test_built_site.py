"""The built docs site shows rendered docstrings, not their markup: `mkdocs build --strict`
succeeds, and no page shows a reST role (`:meth:`), a paragraph ending in the reST code-block
marker `::`, or a private module path (`trackyard._x`); on the API reference, every mention of
a documented name is a link to its entry.

The docstrings are Markdown with mkdocstrings cross-references (docs/architecture.md,
"Docstrings"); this is what a reader of the site would see if one slipped back to reST.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

ROLE = re.compile(r":(?:py:)?(?:meth|class|func|attr|mod|exc|data|obj|const|ref|term|doc):\S")
# A `python -m trackyard.cli._docgen` command line (how docs/cli.md is regenerated) is a
# command to type, not a name to import, so it is not counted.
PRIVATE_PATH = re.compile(r"(?<!-m )\btrackyard\w*(?:\.\w+)*?\._[A-Za-z]")
# Block elements whose text a reader sees as one paragraph (code blocks are <pre>, left out).
PARAGRAPH = re.compile(r"<(p|li|td|dd|dt)\b[^>]*>(.*?)</\1>", re.S)
TAG = re.compile(r"<[^>]+>")
LINK = re.compile(r"<a\b[^>]*>.*?</a>", re.S)


class _Text(HTMLParser):
    """Visible text of a page (without <script>/<style>) and the id/href/title attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.attributes: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        self.attributes += [v for k, v in attrs if k in ("id", "href", "title") and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as .ci/run builds it (strict: any warning fails), into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-4000:]}"
    return out


def _pages(site: Path) -> Iterator[tuple[str, str]]:
    for page in sorted(site.rglob("*.html")):
        yield page.relative_to(site).as_posix(), page.read_text(encoding="utf-8")


def _parsed(source: str) -> _Text:
    parser = _Text()
    parser.feed(source)
    return parser


def _paragraphs(source: str) -> Iterator[str]:
    for match in PARAGRAPH.finditer(source):
        yield html.unescape(TAG.sub("", match.group(2))).strip()


def test_the_site_has_the_reference_page(site: Path) -> None:
    """The checks below read the rendered API reference (a missing page would prove nothing)."""
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    assert 'id="trackyard.DomainTracker.run"' in reference


def test_no_page_shows_a_rest_role(site: Path) -> None:
    """No `:meth:`, `:class:`, `:func:` ... role text is left on any page."""
    found = [
        f"{name}: ...{text[max(0, m.start() - 40) : m.end() + 40]}..."
        for name, source in _pages(site)
        for text in ["".join(_parsed(source).text)]
        for m in ROLE.finditer(text)
    ]
    assert found == [], "reST roles shown as text:\n" + "\n".join(found)


def test_no_paragraph_ends_in_a_code_block_marker(site: Path) -> None:
    """No paragraph ends in `::` (reST's 'code block follows'; docstrings use fenced blocks)."""
    found = [
        f"{name}: {text[-100:]}"
        for name, source in _pages(site)
        for text in _paragraphs(source)
        if text.endswith("::")
    ]
    assert found == [], "paragraphs ending in '::':\n" + "\n".join(found)


def test_no_paragraph_is_an_unformatted_example(site: Path) -> None:
    """A doctest-style example (`>>> ...`) is in a code block, not run together as prose."""
    found = [
        f"{name}: {text[:100]}"
        for name, source in _pages(site)
        for text in _paragraphs(source)
        if text.startswith(">>>")
    ]
    assert found == [], "examples shown as paragraphs:\n" + "\n".join(found)


def test_no_page_shows_a_private_module_path(site: Path) -> None:
    """No `trackyard._x` path in any page's text, link, anchor or tooltip: public names are
    shown as users import them (`trackyard.X`, `trackyard.errors.X`, `trackyard.testing.X`)."""
    found = []
    for name, source in _pages(site):
        parsed = _parsed(source)
        for where in ["".join(parsed.text), *parsed.attributes]:
            found += [
                f"{name}: ...{where[max(0, m.start() - 40) : m.end() + 40]}..."
                for m in PRIVATE_PATH.finditer(where)
            ]
    assert found == [], "private module paths shown:\n" + "\n".join(found)


MODULES = ("errors", "testing", "hookspecs", "report")


def _documented_names(reference: str) -> set[str]:
    """How a docstring names a documented object: `Name` or `Owner.member`, with or without
    its `trackyard.` / `trackyard.errors.` ... prefix, and a module as `trackyard.errors`; from
    the anchors of the rendered entries."""
    names = set()
    for path in re.findall(r'<h\d id="(trackyard\.[\w.]+)"', reference):
        parts = path.split(".")[1:]
        if parts[0] in MODULES:
            parts = parts[1:]
        if not parts:
            names.add(path)  # a module: only its full name is unambiguous
        elif len(parts) <= 2:
            names.add(".".join(parts))
    return names


def _bare(code: str) -> str:
    """`trackyard.errors.UnknownRunError` -> `UnknownRunError`; `get_tracker(name)` ->
    `get_tracker`; a module's full name is kept."""
    code = re.sub(r"\([\w, =*]*\)$", "", html.unescape(code))
    if re.fullmatch(rf"trackyard\.({'|'.join(MODULES)})", code):
        return code
    return re.sub(rf"^trackyard\.(({'|'.join(MODULES)})\.)?", "", code)


def test_the_reference_links_every_documented_name_it_mentions(site: Path) -> None:
    """On the API reference, a documented class, function, error or `Owner.member` named in a
    docstring is a link to its entry, not plain code."""
    reference = (site / "reference" / "index.html").read_text(encoding="utf-8")
    names = _documented_names(reference)
    assert {"DomainTracker", "DomainTracker.run", "get_tracker", "UnknownRunError"} <= names
    unlinked = set()
    for match in PARAGRAPH.finditer(reference):
        for code in re.findall(r"<code>([^<]+)</code>", LINK.sub("", match.group(2))):
            if _bare(code) in names:
                unlinked.add(code)
    assert sorted(unlinked) == [], "documented names shown as plain code, not linked"
