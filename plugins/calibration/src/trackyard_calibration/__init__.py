"""trackyard's first-party ``calibration`` domain."""

__version__ = "0.1.0"
