"""Models for the no-shared-folder Dask tests; importable by reference on the workers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import consist


def reads_table(config: dict[str, Any]) -> dict[str, Any]:
    """Copy the ``table`` input file (a config ``Path``) into every output, with ``coeff``."""
    text = Path(config["table"]).read_text(encoding="utf-8")
    coeff = float(config["coeff"])
    outputs: dict[str, Any] = {}
    for key in ("persons", "trips", "metrics"):
        outputs[key] = Path(consist.output_path(key, "txt"))
        outputs[key].write_text(f"{key} {coeff}\n{text}", encoding="utf-8")
    return {**outputs, "mode_share_error": (coeff - 0.5) ** 2}


def big_output(config: dict[str, Any]) -> dict[str, Any]:
    """A ``persons`` output of ``megabytes`` MB (a repeated pattern with the coeff)."""
    coeff = float(config["coeff"])
    size = int(float(config["megabytes"]) * 1024 * 1024)
    pattern = f"{coeff:.3f},".encode()
    outputs: dict[str, Any] = {}
    outputs["persons"] = Path(consist.output_path("persons", "csv"))
    with outputs["persons"].open("wb") as handle:
        handle.write((pattern * (size // len(pattern) + 1))[:size])
    for key in ("trips", "metrics"):
        outputs[key] = Path(consist.output_path(key, "json"))
        outputs[key].write_text(json.dumps({"coeff": coeff}), encoding="utf-8")
    return {**outputs, "mode_share_error": (coeff - 0.5) ** 2}


def reads_folders(
    config: dict[str, Any], config_dir: Path, targets: Path | None = None
) -> dict[str, Any]:
    """Read the calibration domain's identity inputs (its ``config_dir`` folder and ``targets``
    file) and a folder given in the config (``zones``): every output lists what it read."""
    read = [f"{p.name}={p.read_text(encoding='utf-8')}" for p in sorted(Path(config_dir).iterdir())]
    read.append(f"targets={Path(targets).read_text(encoding='utf-8')}" if targets else "")
    zones = Path(config["zones"])
    read += [f"{p.relative_to(zones)}={p.read_text()}" for p in sorted(zones.rglob("*.csv"))]
    coeff = float(config["coeff"])
    outputs: dict[str, Any] = {}
    for key in ("persons", "trips", "metrics"):
        outputs[key] = Path(consist.output_path(key, "txt"))
        outputs[key].write_text(f"{key} {coeff}\n" + "\n".join(read), encoding="utf-8")
    return {**outputs, "mode_share_error": (coeff - 0.5) ** 2}


def own_file(path: str, text: str) -> str:
    """Run on a worker by a test: a file of the worker's own machine at ``path``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text, encoding="utf-8")
    return Path(path).read_text(encoding="utf-8")


def read_text(path: str) -> str:
    """Run on a worker by a test: the text of ``path`` there."""
    return Path(path).read_text(encoding="utf-8")
