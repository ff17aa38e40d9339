"""A seeded stochastic Lotka-Volterra (predator-prey) model, scored against an observed series."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

STEPS = 400
DT = 0.05


def _trajectory(
    alpha: float, beta: float, gamma: float, delta: float, noise: float, seed: int
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prey, pred = np.empty(STEPS), np.empty(STEPS)
    prey[0], pred[0] = 10.0, 5.0
    shocks = rng.normal(0.0, noise, (STEPS, 2))
    for t in range(1, STEPS):
        x, y = prey[t - 1], pred[t - 1]
        prey[t] = max(x + DT * (alpha * x - beta * x * y) + shocks[t, 0], 0.0)
        pred[t] = max(y + DT * (delta * x * y - gamma * y) + shocks[t, 1], 0.0)
    return pd.DataFrame({"t": np.arange(STEPS) * DT, "prey": prey, "predator": pred})


def observed() -> pd.DataFrame:
    """The bundled 'observed' series: the true parameters with a fixed seed."""
    return _trajectory(1.1, 0.4, 0.4, 0.1, 0.05, seed=2024)


def simulate(config: dict[str, Any]) -> dict[str, Any]:
    """Simulate with ``config``'s parameters; return ``results`` and ``rmse`` against observed."""
    frame = _trajectory(
        float(config.get("alpha", 1.0)),
        float(config.get("beta", 0.4)),
        float(config.get("gamma", 0.4)),
        float(config.get("delta", 0.1)),
        float(config.get("noise", 0.05)),
        int(config.get("seed", 0)),
    )
    obs = observed()
    rmse = float(
        np.sqrt(((frame[["prey", "predator"]] - obs[["prey", "predator"]]) ** 2).to_numpy().mean())
    )
    return {"results": frame, "rmse": rmse}
