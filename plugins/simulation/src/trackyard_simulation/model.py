"""A seeded stochastic Lotka-Volterra (predator-prey) model, scored against an observed series.

One run simulates ``STEPS`` steps; a run given the ``previous`` run's results continues from
its final state (``run_years`` chains years that way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STEPS = 2000
DT = 0.01
START = (10.0, 5.0)


def _trajectory(
    alpha: float,
    beta: float,
    gamma: float,
    delta: float,
    noise: float,
    seed: int,
    start: tuple[float, float] = START,
    t0: float = 0.0,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prey, pred = np.empty(STEPS), np.empty(STEPS)
    prey[0], pred[0] = start
    shocks = rng.normal(0.0, noise * np.sqrt(DT), (STEPS, 2))
    for t in range(1, STEPS):
        x, y = prey[t - 1], pred[t - 1]
        prey[t] = max(x + DT * (alpha * x - beta * x * y) + shocks[t, 0], 0.0)
        pred[t] = max(y + DT * (delta * x * y - gamma * y) + shocks[t, 1], 0.0)
    return pd.DataFrame({"t": t0 + np.arange(STEPS) * DT, "prey": prey, "predator": pred})


def observed() -> pd.DataFrame:
    """The bundled 'observed' series: the true parameters with a fixed seed."""
    return _trajectory(1.1, 0.4, 0.4, 0.1, 0.5, seed=2024)


def simulate(config: dict[str, Any], previous: Any = None) -> dict[str, Any]:
    """Simulate with ``config``'s parameters; return ``results`` and ``rmse`` against observed.

    Config: ``alpha``, ``beta``, ``gamma``, ``delta`` (rates), ``noise``, ``seed``.
    ``previous``: the previous year's results (a DataFrame or a parquet path), to continue from.
    """
    start, t0 = START, 0.0
    if previous is not None:
        frame = previous if isinstance(previous, pd.DataFrame) else pd.read_parquet(Path(previous))
        last = frame.iloc[-1]
        start, t0 = (float(last["prey"]), float(last["predator"])), float(last["t"]) + DT
    result = _trajectory(
        float(config.get("alpha", 1.0)),
        float(config.get("beta", 0.4)),
        float(config.get("gamma", 0.4)),
        float(config.get("delta", 0.1)),
        float(config.get("noise", 0.5)),
        int(config.get("seed", 0)),
        start=start,
        t0=t0,
    )
    obs = observed()
    diff = result[["prey", "predator"]].to_numpy() - obs[["prey", "predator"]].to_numpy()
    return {"results": result, "rmse": float(np.sqrt((diff**2).mean()))}
