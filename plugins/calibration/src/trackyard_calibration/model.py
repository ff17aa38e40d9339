"""A toy travel mode-choice model: seeded persons, logit trips, error against target shares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import consist
import numpy as np
import pandas as pd

MODES = ("car", "transit", "walk")


def run_model(
    config: dict[str, Any], config_dir: Path, targets: Path | None = None
) -> dict[str, Any]:
    """Simulate trips for a synthetic population; return outputs and ``mode_share_error``.

    Config: ``mode_choice_coeff`` (logit coefficient), ``sample_rate`` (share of ``population``
    simulated), ``seed``. Target shares come from ``targets`` or ``config_dir/targets.json``.
    """
    source = Path(targets) if targets is not None else Path(config_dir) / "targets.json"
    targets_ = json.loads(source.read_text(encoding="utf-8"))["mode_shares"]
    rng = np.random.default_rng(int(config.get("seed", 42)))
    population = int(config.get("population", 50_000))
    n = max(1, int(population * float(config.get("sample_rate", 0.1))))
    coeff = float(config.get("mode_choice_coeff", 0.5))
    persons = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "income": rng.lognormal(10.5, 0.5, n),
            "distance_km": rng.gamma(2.0, 4.0, n),
        }
    )
    # Utilities: car grows with income, transit with distance, walk falls with distance.
    income = np.log(persons["income"].to_numpy()) - 10.5
    dist = persons["distance_km"].to_numpy()
    utility = np.column_stack([coeff * income + 0.2, 0.05 * dist - 0.3 * coeff, 1.0 - 0.35 * dist])
    prob = np.exp(utility - utility.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    choice = (prob.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    trips = pd.DataFrame({"person_id": persons["person_id"], "mode": np.array(MODES)[choice]})
    shares = trips["mode"].value_counts(normalize=True).reindex(MODES, fill_value=0.0)
    error = float(sum(abs(shares[m] - targets_[m]) for m in MODES))
    metrics_path = Path(consist.output_path("metrics", "json"))
    metrics_path.write_text(
        json.dumps({"mode_shares": shares.to_dict(), "mode_share_error": error})
    )
    return {"persons": persons, "trips": trips, "metrics": metrics_path, "mode_share_error": error}
