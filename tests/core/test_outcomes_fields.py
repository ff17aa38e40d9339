"""``ManyResult.outcomes`` keeps each outcome compactly; every field must survive the trip.

The compact record spells ``RunOutcome``'s fields out; a field added to ``RunOutcome`` later
and not kept would come back as its default in every sweep's result. This test sets every
field (a new one included, whatever it is) to a value no default has and reads it back.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from trackyard import RunOutcome
from trackyard._outcomes import Outcomes

KNOWN: dict[str, Any] = {
    "run_id": "r1_abc",
    "name": "other-name",
    "status": "completed",
    "cache_hit": True,
    "cache_source": "r0_def",
    "metrics": {"rmse": 0.5, "n": None},
    "outputs": {"table": Path("/w/runs/r1/t.csv"), "log": Path("/elsewhere/x.log")},
    "config": {"a": 1, "nested": {"b": [1, 2]}},
    "environment_changed": {"numpy": ("1.0", "2.0")},
    "rerun_reason": "outputs changed",
}


def test_every_run_outcome_field_survives_the_compact_record() -> None:
    values = {
        f.name: KNOWN.get(f.name, object())  # a field added later gets a value of its own
        for f in dataclasses.fields(RunOutcome)
        if f.name != "result"  # consist's RunResult: an outcome with one is kept whole
    }
    outcome = RunOutcome(**values)
    kept = Outcomes({"item": outcome})
    back = kept["item"]
    lost = [name for name, value in values.items() if getattr(back, name) != value]
    assert lost == [], f"Outcomes drops RunOutcome fields {lost}: keep them in its record"
    assert back == outcome


def test_an_outcome_carrying_consists_result_is_kept_whole() -> None:
    result = object()
    outcome = dataclasses.replace(RunOutcome(**KNOWN), result=result)
    assert Outcomes({"item": outcome})["item"].result is result
