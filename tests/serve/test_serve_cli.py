"""``trackyard serve`` as a user starts it: without the extra it says how to install it; a
non-local address warns that there is no authentication."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from .._console import user_env
from .conftest import start_server, stop_server

# The console script's entry point, with starlette made unimportable (as without the extra).
WITHOUT_EXTRA = """
import sys
sys.modules["starlette"] = None
sys.argv = ["trackyard", "serve", "--workspace", sys.argv[1]]
from trackyard.cli import main
main()
"""


def test_missing_extra_says_how_to_install_it(tmp_path: Path) -> None:
    """Without starlette, serve exits 1 naming the extra to install."""
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRA, str(tmp_path)],
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: trackyard serve needs the serve extra: pip install 'trackyard[serve]' "
        "(starlette is not installed)"
    )


def test_non_local_host_warns_there_is_no_authentication(tmp_path: Path) -> None:
    """--host 0.0.0.0 serves, after a warning on stderr; the default address prints none."""
    proc, _ = start_server(tmp_path / "ws", "--host", "0.0.0.0")
    time.sleep(0.5)
    out = stop_server(proc)
    assert "Warning: serving on 0.0.0.0, reachable from the network, with no authentication" in out
    proc, port = start_server(tmp_path / "ws")
    out = stop_server(proc)
    assert "Warning" not in out
    assert f"Serving the workspace at http://127.0.0.1:{port}/ (read-only; Ctrl+C to stop)" in out
