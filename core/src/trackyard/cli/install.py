"""``trackyard install``, ``trackyard uninstall`` and ``trackyard plugins export``.

pip runs as ``python -m pip`` of the interpreter trackyard runs in; its output is shown as a
one-line progress status (the current pip line), never dumped. A failure is one line; ``--debug``
adds pip's own output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from trackyard.cli._app import app

if TYPE_CHECKING:
    from trackyard.installer import Dist

plugins_app = typer.Typer(
    name="plugins",
    help="Manage the installed plugin set (export a lock of it).",
    no_args_is_help=True,
)
app.add_typer(plugins_app, name="plugins")


@contextmanager
def _status(title: str) -> Iterator[Callable[[str], None]]:
    """A rich status spinner on stderr showing the latest pip line under ``title``."""
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True)
    with console.status(escape(title)) as status:

        def update(line: str) -> None:
            status.update(f"{escape(title)} [dim]{escape(line[:100])}[/dim]")

        yield update


@app.command("install")
def install_command(
    specs: list[str] = typer.Argument(
        None,
        help="Requirement (acme-transit>=2), local path, or first-party domain name (calibration).",
        show_default=False,
    ),
    editable: bool = typer.Option(False, "--editable", "-e", help="Pass -e to pip for each SPEC."),
    check: bool = typer.Option(
        True, "--check/--no-check", help="Validate new plugins; roll back the ones that fail."
    ),
    requirements: Path | None = typer.Option(
        None, "-r", "--requirement", help="A trackyard lock to restore, or a pip requirements file."
    ),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="Allow a local project to replace an installed distribution of the same name.",
    ),
) -> None:
    """Install domain plugins into this interpreter, then validate each new plugin."""
    from trackyard.installer import install

    with _status("Installing") as update:
        report = install(
            specs or [],
            check=check,
            editable=editable,
            requirements=requirements,
            progress=update,
            replace=replace,
        )
    again = {dist.key: what for dist, what in report.reinstalled}
    if not report.installed and not again:
        typer.echo("Nothing new was installed (everything requested is already installed).")
    for dist in report.installed:
        if dist.key not in again:
            domains = ", ".join(dist.domains) or "no domains"
            typer.echo(f"Installed {dist.name} {dist.version} ({domains})")
    for dist, what in report.reinstalled:
        typer.echo(_reinstalled_line(dist, what, check))
    if report.domains_added:
        added = ", ".join(sorted({d for d, _ in report.domains_added}))
        checked = "validated" if check else "not validated (--no-check)"
        typer.echo(f"Domains added: {added} [{checked}]")
    for note in report.notes:
        typer.echo(f"Note: {note}", err=True)


def _reinstalled_line(dist: Dist, what: str, check: bool) -> str:
    """What a reinstall from a local folder did, and what it means for cached results."""
    head = f"Reinstalled {dist.name} {dist.version} from its folder: {what}"
    if what == "code unchanged":
        return f"{head}; nothing else changed, cached results stay valid"
    checked = "validated" if check else "not validated (--no-check)"
    return (
        f"{head} ({checked}); runs cached with the old code re-run on their next call "
        "(a model's code is part of its cache key)"
    )


@app.command("uninstall")
def uninstall_command(
    names: list[str] = typer.Argument(..., help="Domain names or plugin distribution names."),
) -> None:
    """Uninstall plugin distributions by domain or distribution name (never the core)."""
    from trackyard.installer import uninstall

    with _status("Uninstalling") as update:
        report = uninstall(names, progress=update)
    for dist in report.removed:
        domains = ", ".join(dist.domains) or "no domains"
        typer.echo(f"Uninstalled {dist.name} {dist.version} ({domains})")


@plugins_app.command("export")
def export_command(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the lock here instead of printing it."
    ),
) -> None:
    """Write a TOML lock of the core and every plugin distribution, with the fingerprint."""
    from trackyard.installer import export_lock

    lock = export_lock(output)
    if output is None:
        typer.echo(lock.to_toml(), nl=False)
    else:
        typer.echo(
            f"Wrote {output} ({len(lock.plugins)} plugin distribution(s), "
            f"fingerprint {lock.fingerprint[:12]})"
        )
