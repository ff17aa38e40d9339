"""Fixtures shared by every test folder: the one headless Chromium of the session.

The report tests (tests/report) and the live view's tests (tests/serve) drive the same browser:
Playwright's sync API runs one event loop per process, so a second ``sync_playwright()`` while
the first is alive fails ("using Playwright Sync API inside the asyncio loop"). Defined once
here, the session's browser is shared.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ._venvs import new_venv

CHROMIUM = os.environ.get("TRACKYARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "the report browser tests need Chromium and Playwright: apt-get install -y chromium "
    "(or set TRACKYARD_CHROMIUM to a Chromium binary) and pip install playwright "
    "(requirements-dev.txt); .ci/run installs both"
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium; skipped with how to install it when missing, failing under CI=true."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed"
    if missing is None and not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        missing = f"no Chromium at {CHROMIUM}"
    if missing is not None:
        if in_ci:
            pytest.fail(f"{missing}; {INSTALL_HINT}")
        pytest.skip(f"{missing}; {INSTALL_HINT}")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """``fresh_venv(path)``: a new venv there (its own pip, nothing of trackyard) that sees the
    run's shared third-party dependencies (tests/_venvs.py); returns its ``bin`` folder."""
    return lambda path: new_venv(path, tmp_path_factory)


# Test folders whose tests share session-scoped fixtures (a workspace, a served workspace):
# each runs on one xdist worker, so those fixtures are built once.
SHARED_SESSION_FOLDERS = frozenset({"report", "serve"})


def _scope(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or its folder if that is shared."""
    path = nodeid.split("::", 1)[0]
    folder = path.rsplit("/", 2)[-2] if path.count("/") >= 1 else ""
    return folder if folder in SHARED_SESSION_FOLDERS else path


# Units of work that take a minute or more (the report's and live view's folders, fresh venvs,
# Dask clusters, kill -9 and Ctrl-C trials; measured with --durations): handed out first, so
# that none starts last and runs alone while the other workers idle. The rest follow, the
# units with the most tests first (what pytest-xdist does by default).
SLOW_FIRST = (
    "report",
    "serve",
    "tests/install/test_install_plugins.py",
    "tests/many/test_dask_noshare.py",
    "tests/trust/test_ctrl_c.py",
    "tests/provenance/test_upgrades.py",
    "tests/store/test_store_unprotected.py",
    "tests/store/test_store_rebuild.py",
    "tests/store/test_store_in_flight.py",
    "tests/store/test_store_concurrency.py",
    "tests/cli/test_cli_new_plugin.py",
    "tests/bundles/test_bundle_other_venv.py",
    "tests/trust/test_trust_store.py",
    "tests/cli/test_cli_doctor_workspace.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On an xdist worker, order the tests as their units of work are to be handed out
    (``SLOW_FIRST``, then by size); a unit's own tests keep their order (a stable sort).
    Every worker sorts alike, so their collections still agree."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rank = {scope: n for n, scope in enumerate(SLOW_FIRST)}
    sizes = Counter(_scope(item.nodeid) for item in items)

    def key(item: pytest.Item) -> tuple[int, int]:
        scope = _scope(item.nodeid)
        return rank.get(scope, len(rank)), -sizes[scope]

    items.sort(key=key)


# optionalhook: -p no:xdist leaves the hook undefined, and that is fine.
@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` (the root pyproject.toml's addopts): a file's tests run on one
    worker (module-scoped fixtures, such as a Dask cluster or a venv, are built once), and so
    do the folders in ``SHARED_SESSION_FOLDERS``. A scheduler rather than ``xdist_group``
    marks: pytest 9.2 no longer reads the node id suffix pytest-xdist 3.8's ``loadgroup``
    writes, so those marks grouped nothing."""
    if config.getvalue("dist") != "loadfile":
        return None
    config.option.loadscopereorder = False  # the workers' order (above) is the queue's
    from xdist.scheduler import LoadScopeScheduling

    class ByFileOrSharedFolder(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    return ByFileOrSharedFolder(config, log)
