"""``trackyard demo``: a small calibration of the bundled mode-choice model, end to end.

Uses only the public API (``trackyard.get_tracker("calibration")``, its verbs and
``trackyard.report.build_report``), so it is also a worked example. The second run in the same
workspace executes nothing: every evaluation is served from consist's cache, and the demo says
so. It ends by writing the workspace's HTML report, printing its path, and telling the user
that ``trackyard serve`` shows the next calibration live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trackyard

__all__ = ["DEMO_BASE", "DEMO_SPACE", "run_demo"]

DEMO_SPACE: dict[str, Any] = {"mode_choice_coeff": [0.4, 0.8, 1.2, 1.6, 2.0]}
DEMO_BASE: dict[str, Any] = {"sample_rate": 0.1, "seed": 42}
METRIC = "mode_share_error"


def run_demo(workspace: Path | None = None, console: Any = None) -> int:
    """Calibrate the demo model on a small grid, print the top runs and the best config, and
    write the workspace's HTML report (``<workspace>/report.html``), printing its path.

    ``workspace`` defaults to the resolved setting (``./.trackyard`` unless configured);
    ``console`` is a ``rich.console.Console`` (a new one on stdout by default). Returns 0.
    """
    from rich.console import Console
    from rich.table import Table

    out: Console = console if console is not None else Console()
    n_trials = len(DEMO_SPACE["mode_choice_coeff"])
    with trackyard.get_tracker("calibration", workspace=workspace) as cal:
        out.print(
            f"[bold]trackyard demo[/bold]: calibrating the toy mode-choice model "
            f"({n_trials} grid points of mode_choice_coeff, metric {METRIC})"
        )
        result = cal.calibrate(
            space=DEMO_SPACE,
            metric=METRIC,
            n_trials=n_trials,
            method="grid",
            base_config=DEMO_BASE,
        )
        table = Table(title=f"Top runs by {METRIC} (smallest first)")
        table.add_column("rank", justify="right")
        table.add_column("run id", no_wrap=True)
        table.add_column("mode_choice_coeff", justify="right")
        table.add_column(METRIC, justify="right")
        known = {t.cache_source or t.run_id: t.config for t in result.trials}
        for rank, ranked in enumerate(cal.query_top_k(metric=METRIC, k=5), start=1):
            config = known.get(ranked.run_id) or cal.run_config(ranked.run_id)
            value = "n/a" if ranked.value is None else f"{ranked.value:.4f}"
            table.add_row(str(rank), ranked.run_id, str(config.get("mode_choice_coeff", "")), value)
        out.print(table)
        out.print(
            f"Best config: {result.best_config} ({METRIC} = {result.best_value:.4f}, "
            f"run {result.best_run_id})",
            markup=False,
        )
        total = result.ran + result.cached + result.failed
        if result.ran == 0 and result.failed == 0:
            out.print(
                f"All {total} evaluations were served from cache "
                f"({result.cached} cached, 0 executed)."
            )
        else:
            out.print(
                f"{total} evaluations: {result.ran} executed, {result.cached} served from "
                f"cache, {result.failed} failed. Run the demo again: it is served from cache."
            )
        db_path = cal.settings.db_path
        # Paths are printed as written (a folder named "[x]" is not markup).
        out.print(
            f"Provenance lives in {db_path} (run outputs under {cal.settings.run_dir}).\n"
            f"Inspect it with: consist runs --db-path {db_path}",
            markup=False,
        )
        report_path = cal.settings.workspace / "report.html"
    _report_and_serve(out, workspace, report_path)
    return 0


def _report_and_serve(out: Any, workspace: Path | None, report_path: Path) -> None:
    """Write the workspace's report, print its path, and point at the live view."""
    from trackyard.report import build_report

    report = build_report(["calibration"], workspace=workspace, output=report_path)
    out.print(f"Report (history, slices, top runs): {report.path}", soft_wrap=True, markup=False)
    where = "" if workspace is None else f" --workspace {workspace}"
    out.print(
        f"Watch the next calibration live in your browser: trackyard serve{where} "
        "(needs pip install 'trackyard[serve]')",
        soft_wrap=True,
        markup=False,
    )
