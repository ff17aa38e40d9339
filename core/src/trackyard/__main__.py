"""``python -m trackyard``: the ``trackyard`` command, run by this interpreter (the one
``trackyard install`` installs plugins into)."""

from __future__ import annotations

if __name__ == "__main__":
    from trackyard.cli import main

    main()
