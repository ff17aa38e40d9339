"""A domain page's live part built while the runs listing was kept under the once-a-second
rule must not claim to be current: once the store stops changing, the page still catches up
with the last runs (before, it showed the runs of a second earlier for good)."""

from __future__ import annotations

from pathlib import Path

from trackyard.registry import default_registry
from trackyard.serve._pages import domain_live
from trackyard.serve._state import Reader

from .conftest import finish, write_runs


def test_a_page_built_on_an_older_listing_asks_again(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    finish(write_runs(root, "seed", [0.05]))
    reader = Reader(root, default_registry(), budget=5.0, min_interval=3600.0)
    assert len(reader.records_fresh("calibration").value) == 1  # the listing, kept
    finish(write_runs(root, "more", [0.15]))  # the store changes within the interval

    def live() -> tuple[str, int]:
        return domain_live(reader, "calibration", 1)

    first = reader.read(("domain", "calibration", 1), live)
    assert first.value[1] == 1  # built on the kept listing: the runs of before
    assert first.version != reader.signature()  # ... so a page showing it asks again
    reader.min_interval = 0.0  # the interval has passed; the store has not changed since
    again = reader.read(("domain", "calibration", 1), live)
    assert again.value[1] == 2 and again.version == reader.signature()
