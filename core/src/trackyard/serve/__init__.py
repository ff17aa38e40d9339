"""``trackyard serve``: the workspace's report made live, served on this machine.

A read-only Starlette application (``create_app``) served by uvicorn (``serve``):
the overview, a page per domain that updates as runs land, a page per run, a comparison of
runs, and a JSON API for scripts. It needs the ``serve`` extra:
``pip install 'trackyard[serve]'``. See ``docs/serve.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from trackyard.registry import Registry

__all__ = ["INSTALL_HINT", "create_app", "is_local", "serve"]

INSTALL_HINT = "trackyard serve needs the serve extra: pip install 'trackyard[serve]'"
_LOCAL = ("127.0.0.1", "localhost", "::1")


def is_local(host: str) -> bool:
    """Whether binding ``host`` serves this machine only."""
    return host in _LOCAL or host.startswith("127.")


def create_app(
    workspace: Path | None,
    *,
    registry: Registry | None = None,
    budget: float = 2.0,
    refresh: float = 1.0,
    local_only: bool = True,
) -> Starlette:
    """The live view of ``workspace`` as an ASGI application; see ``_app.create_app``."""
    from trackyard.serve._app import create_app as build

    return build(
        workspace, registry=registry, budget=budget, refresh=refresh, local_only=local_only
    )


def serve(
    workspace: Path | None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    budget: float = 2.0,
    refresh: float = 1.0,
) -> None:
    """Serve the live view of ``workspace`` until interrupted."""
    import uvicorn

    app = create_app(workspace, budget=budget, refresh=refresh, local_only=is_local(host))
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
