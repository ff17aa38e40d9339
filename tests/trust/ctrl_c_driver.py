"""Ctrl-C at random moments of ``trackyard run``: the driver of tests/trust/test_ctrl_c.py.

``python ctrl_c_driver.py WORKSPACE EXECUTOR TRIALS SEED BUDGET LEAST`` (at most TRIALS trials,
stopping after BUDGET seconds once LEAST ran) imports trackyard, consist and the
calibration plugin once, then for each trial forks a child that runs the real CLI
(``trackyard run calibration ...``, its own process group, output to files) and sends SIGINT
to that group after a random delay (before the model, inside it, while it is recorded, while
its outputs are checked), as a terminal's Ctrl-C does. Prints one JSON line per trial.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import consist  # noqa: F401

import trackyard_calibration.plugin  # noqa: F401  (imported once, before the forks)
from trackyard.cli import main


def _child(argv: list[str], out: Path, err: Path, ready: int) -> None:
    os.setpgid(0, 0)
    for fd, path in ((1, out), (2, err)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(handle, fd)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    code = 0
    sys.argv = argv
    try:
        os.write(ready, b"1")  # the parent's clock starts now: Ctrl-C lands in the command
        main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException as exc:  # what escaped the CLI: a test failure, reported as 99
        sys.stderr.write(f"ESCAPED {type(exc).__name__}: {exc}\n")
        code = 99
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _argv(workspace: str, executor: str, trial: int) -> list[str]:
    config = {"a": 0.1 + trial / 1000, "b": 0.2, "c": 0.3, "sleep": 0.3}
    if executor == "serial":
        return ["trackyard", "run", "calibration", "evaluate", "-w", workspace,
                "--set", f"run_name=t{trial}", "--set", f"config={json.dumps(config)}"]  # fmt: skip
    configs = {f"t{trial}": config, f"u{trial}": {**config, "b": 0.25}}
    return ["trackyard", "run", "calibration", "sweep", "-w", workspace,
            "--set", f"configs_by_label={json.dumps(configs)}", "--set", "executor=processes",
            "--set", "max_workers=2", "--set", "progress=false"]  # fmt: skip


def _trial(workspace: str, executor: str, trial: int, delay: float | None) -> dict[str, object]:
    folder = Path(workspace).parent / "out"
    folder.mkdir(parents=True, exist_ok=True)
    out, err = folder / f"{executor}-{trial}.out", folder / f"{executor}-{trial}.err"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(_argv(workspace, executor, trial), out, err, write)
    os.read(read, 1)
    started = time.monotonic()
    os.close(read)
    os.close(write)
    if delay is not None:
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):  # it finished first
            os.killpg(pid, signal.SIGINT)
    _, status = os.waitpid(pid, 0)
    return {
        "trial": trial,
        "delay": delay,
        "code": os.waitstatus_to_exitcode(status),
        "seconds": round(time.monotonic() - started, 3),
        "stdout": out.read_text(),
        "stderr": err.read_text(),
    }


def main_driver() -> None:
    workspace, executor, trials, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    budget, least = float(sys.argv[5]), int(sys.argv[6])
    pick = random.Random(seed)
    started = time.monotonic()
    baseline = _trial(workspace, executor, 0, None)  # how long one command takes here
    print(json.dumps(baseline), flush=True)
    span = float(baseline["seconds"])  # type: ignore[arg-type]
    for trial in range(1, trials + 1):
        if trial > least and time.monotonic() - started > budget:
            break  # a loaded machine: fewer trials, each still a full check
        print(json.dumps(_trial(workspace, executor, trial, pick.uniform(0, span))), flush=True)


if __name__ == "__main__":
    main_driver()
