"""trackyard's first-party ``simulation`` domain."""

__version__ = "0.1.0"
