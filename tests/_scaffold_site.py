"""A scaffolded plugin (``trackyard new-plugin``) made importable as an installed distribution
without pip: its package and a ``.dist-info`` in a trusted folder on ``PYTHONPATH``."""

from __future__ import annotations

import shutil
from pathlib import Path

from trackyard.cli._scaffold import write_plugin

from ._console import PLAIN_TERMINAL, user_env


def installed_scaffold(tmp_path: Path, report_body: str = "    return None") -> dict[str, str]:
    """The scaffolded 'epidemic' plugin, installed as a distribution on a trusted PYTHONPATH
    folder, with ``report_sections`` replaced by ``report_body``; returns the environment."""
    root, _ = write_plugin("epidemic", tmp_path / "epidemic")
    site = tmp_path / "site"
    shutil.copytree(root / "src" / "trackyard_epidemic", site / "trackyard_epidemic")
    plugin = site / "trackyard_epidemic" / "plugin.py"
    text = plugin.read_text()
    head = text[: text.index("@hookimpl\ndef report_sections")]
    plugin.write_text(
        head + "@hookimpl\ndef report_sections(domain, tracker):\n" + report_body + "\n"
    )
    info = site / "trackyard_epidemic-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: trackyard-epidemic\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[trackyard.domains]\nepidemic = trackyard_epidemic.plugin\n"
    )
    files = [p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    return user_env(
        {**PLAIN_TERMINAL, "PYTHONPATH": str(site), "TRACKYARD_TRUSTED_PATHS": str(site)}
    )
