"""``trackyard run DOMAIN VERB``: call any verb of any domain from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from trackyard.cli._app import app

WORKSPACE_HELP = "Workspace folder (default: settings resolution, ./.trackyard)."


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's values, or a ``ConfigValidationError`` naming the file. Only a regular
    file of at most 1 MB is read, checked before reading (a device or FIFO never is)."""
    import tomllib

    from trackyard._depth import check_text_depth
    from trackyard.errors import ConfigValidationError

    data = _config_bytes(path)
    try:
        text = data.decode("utf-8")
        check_text_depth(text, f"--config file {path}")
        return tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigValidationError(
            f"cannot read --config file {path}: {exc}; save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigValidationError(f"cannot read --config file {path}: {exc}") from None


def _config_bytes(path: Path) -> bytes:
    """The bytes of a regular file of at most ``CONFIG_MAX_BYTES`` (opened without blocking,
    so that a FIFO is refused instead of waited on)."""
    import os
    import stat

    from trackyard._validate import CONFIG_MAX_BYTES
    from trackyard.errors import ConfigValidationError

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ConfigValidationError(f"--config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigValidationError(f"cannot read --config file {path}: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise ConfigValidationError(f"--config file {path} is not a regular file; pass a TOML file")
    with os.fdopen(fd, "rb") as f:
        size = info.st_size
        data = b"" if size > CONFIG_MAX_BYTES else f.read(CONFIG_MAX_BYTES + 1)
    if size > CONFIG_MAX_BYTES or len(data) > CONFIG_MAX_BYTES:
        raise ConfigValidationError(
            f"--config file {path} is {max(size, len(data)):,} bytes, over the "
            f"{CONFIG_MAX_BYTES:,}-byte limit of a config file; make it smaller"
        )
    return data


def check_call(
    domain: str,
    verb: str,
    workspace: Path | None,
    file_values: dict[str, Any],
    settings: list[str],
) -> None:
    """Refuse a bad call before the tracker (and so the workspace) is built: the domain, its
    settings and locations, the verb, its parameters, and the run name and config that
    ``DomainTracker.run`` would refuse."""
    from collections.abc import Mapping

    from trackyard._provenance import plain_config
    from trackyard._store import check_locations
    from trackyard._validate import check_config, check_run_name
    from trackyard.cli._verbs import build_arguments, declared_verbs, pick_verb
    from trackyard.registry import default_registry

    options = {"workspace": workspace} if workspace is not None else {}
    cls, resolved, _wiring, registered = default_registry().describe(domain, **options)
    check_locations(resolved)
    chosen = pick_verb(domain, declared_verbs(cls, registered), verb)
    kwargs = build_arguments(chosen, domain, file_values, settings)
    if isinstance(kwargs.get("run_name"), str):
        check_run_name(kwargs["run_name"])
    if isinstance(kwargs.get("config"), Mapping):
        check_config(plain_config(dict(kwargs["config"])))  # a Path (--set K=@PATH) is a file


def build_tracker(domain: str, workspace: Path | None) -> Any:
    from trackyard import get_tracker

    return get_tracker(domain, workspace=workspace)


@app.command("run")
def run(
    domain: str = typer.Argument(..., help="The domain, e.g. calibration."),
    verb: str = typer.Argument(..., help="The verb to call, e.g. evaluate."),
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            metavar="KEY=VALUE",
            help="A verb parameter as key=value (repeatable). Values are parsed by the parameter's "
            "type; dict and list values take JSON or TOML; key.sub=value sets one key of a dict; "
            "key=@PATH passes a file (a pathlib.Path, hashed by content; @@ for a literal @).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE.toml",
            help="A TOML file of verb parameters (--set wins).",
        ),
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", "-w", help=WORKSPACE_HELP)
    ] = None,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Call VERB of DOMAIN with parameters from --set and --config, and print the result.

    Verbs and their parameters come from the tracker's type-annotated signatures; see them
    with 'trackyard info DOMAIN'. Example:

      trackyard run calibration evaluate --set run_name=base --set config.seed=3

    A file the model reads is passed with @ (a pathlib.Path, keyed by its content); a plain
    string naming an existing file is refused:

      trackyard run calibration evaluate --set run_name=base --set config.data=@trips.csv
    """
    from trackyard.cli._render import print_result
    from trackyard.cli._verbs import build_arguments, command_line_hint, get_verb
    from trackyard.errors import ConfigValidationError

    file_values = read_toml(config) if config is not None else {}
    check_call(domain, verb, workspace, file_values, settings or [])  # before anything is written
    tracker = build_tracker(domain, workspace)
    chosen = get_verb(tracker, verb)
    kwargs = build_arguments(chosen, domain, file_values, settings or [])
    with tracker:
        try:
            result = chosen.fn(**kwargs)
        except ConfigValidationError as error:
            hint = command_line_hint(error, kwargs)
            if hint is None:
                raise
            # The command line's way only: the author's advice (inputs=, a pathlib.Path, the
            # wiring) is for code a CLI user does not write.
            raise ConfigValidationError(f"{error.problem or error}; {hint}") from error
    print_result(result, as_json=as_json)
