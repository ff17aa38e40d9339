"""Models for the trust tests (a real module, so consist can identify their code)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import consist


def good(config: dict[str, Any]) -> dict[str, Any]:
    """Write the declared output and return a metric."""
    path = Path(consist.output_path("results", "txt"))
    path.write_text(repr(sorted(config.items())))
    return {"results": path, "score": float(config.get("x", 0))}


def phantom(config: dict[str, Any]) -> dict[str, Any]:
    """Return a path that does not exist."""
    return {"results": Path("never-written.txt").absolute(), "score": 1.0}


def undeclared(config: dict[str, Any]) -> dict[str, Any]:
    """Return metrics only, never the declared output."""
    return {"score": 2.0}


def interrupt(config: dict[str, Any]) -> dict[str, Any]:
    """Stop the way a user or a library stops a process."""
    if config.get("how") == "exit":
        sys.exit(3)
    raise KeyboardInterrupt


def crash(config: dict[str, Any]) -> dict[str, Any]:
    """kill -9 the own process when config says so, else behave like ``good``."""
    if config.get("crash"):
        os.kill(os.getpid(), 9)
    if config.get("sleep"):
        time.sleep(float(config["sleep"]))
    return good(config)
