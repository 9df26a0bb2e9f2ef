"""What the database commands print as the core reports it (the core never prints this)."""

from __future__ import annotations

from migrail.database.migrate import Progress


def print_progress(step: Progress) -> None:
    """`  - unapplying shop.0002_price (0.01s)`: the name as it starts, the time as it ends."""
    if step.seconds is None:
        verb = "  - unapplying" if step.backwards else "  + applying"
        print(f"{verb} {step.key[0]}.{step.key[1]}", end="", flush=True)
    elif step.failed:
        print(f" failed ({step.seconds:.2f}s)", flush=True)
    else:
        print(f" ({step.seconds:.2f}s)", flush=True)
