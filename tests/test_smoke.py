"""Smoke test: the installed first-party plugins are discovered through real entry points."""

import trackyard


def test_first_party_domains_are_discovered() -> None:
    """Both editable-installed first-party domains are listed as available."""
    names = {(d.name, d.distribution) for d in trackyard.available_domains()}
    assert {
        ("calibration", "trackyard-calibration"),
        ("simulation", "trackyard-simulation"),
    } <= names
