"""consist's log lines, routed through trackyard's logger ``trackyard.consist``.

consist logs with the ``logging`` module's functions (``logging.warning(...)``): on the root
logger, configuring it on first use (``basicConfig``), so its raw ``WARNING:root:[Consist] ...``
lines reach the console and every library's records after them do too. ``route`` points
the ``logging`` name of each loaded consist module at a stand-in that sends those calls to
``trackyard.consist`` instead (the record still names consist's file and line). trackyard acts
on what consist warns about itself (a missing input is refused before consist sees it, a
swallowed write is read back), so by default only errors are printed, as one line in
trackyard's voice, and only when the application configured no logging of its own; an
application that configures logging sees every record through its own handlers.

SQLAlchemy (consist's store layer) logs an ERROR with the traceback whenever closing or
resetting a pooled connection raises, Ctrl-C included, and then lets the KeyboardInterrupt go
on: with no logging configured, Python's last-resort handler printed that traceback under the
CLI's one "Interrupted" line. ``_DropInterrupts`` drops exactly those records (a SQLAlchemy
logger, an exception that is not an ``Exception``) from the last-resort handler; every other
record, and every record reaching an application's own handlers, is unchanged.
"""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Callable
from typing import Any

LOGGER = logging.getLogger("trackyard.consist")
PREFIX = "[Consist] "


class _ConsoleLine(logging.Handler):
    """An error from consist as one stderr line, ``trackyard: consist: <message>``, unless
    the application has handlers of its own (they show it, formatted their way)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return
        message = record.getMessage()
        message = message[len(PREFIX) :] if message.startswith(PREFIX) else message
        sys.stderr.write(f"trackyard: consist: {message.splitlines()[0] if message else ''}\n")


class _ConsistLogging(types.ModuleType):
    """consist's ``logging``: the module-level calls go to ``LOGGER``; everything else
    (``getLogger``, levels, handlers) is the real module."""

    def __getattr__(self, name: str) -> Any:
        return getattr(logging, name)


def _forward(method: str) -> Callable[..., None]:
    def call(msg: object, *args: Any, **kwargs: Any) -> None:
        # One frame up: the record names consist's file and line, not this one.
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        getattr(LOGGER, method)(msg, *args, **kwargs)

    return call


def _log(level: int, msg: object, *args: Any, **kwargs: Any) -> None:
    kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
    LOGGER.log(level, msg, *args, **kwargs)


class _DropInterrupts(logging.Filter):
    """Drop a SQLAlchemy record whose exception is Ctrl-C (or another non-``Exception``): it
    is raised on right after, and the caller reports it (see the module's docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("sqlalchemy.") or not record.exc_info:
            return True
        kind = record.exc_info[0]
        return kind is None or issubclass(kind, Exception)


if logging.lastResort is not None and not any(
    isinstance(f, _DropInterrupts) for f in logging.lastResort.filters
):
    logging.lastResort.addFilter(_DropInterrupts())

STAND_IN = _ConsistLogging("logging")
for _name in ("debug", "info", "warning", "error", "exception", "critical"):
    setattr(STAND_IN, _name, _forward(_name))
STAND_IN.warn = STAND_IN.warning  # type: ignore[attr-defined]
STAND_IN.log = _log  # type: ignore[attr-defined]
LOGGER.addHandler(_ConsoleLine())


def route() -> None:
    """Point every loaded consist module's ``logging`` at the stand-in (cheap; called when a
    consist tracker is built or a run starts, so modules consist loaded lazily follow)."""
    for name, module in list(sys.modules.items()):
        if (name == "consist" or name.startswith("consist.")) and getattr(
            module, "logging", None
        ) is logging:
            module.logging = STAND_IN  # type: ignore[attr-defined]
