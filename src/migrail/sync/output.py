"""What the database commands print as the core reports it (the core never prints this)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from migrail.sync.migrate import Progress


def in_step_line(alias: str, seconds: float, *, edited: bool = False) -> str:
    """A sync's last line when the database holds what the work tree migrates to."""
    state = "matches the working tree"
    if edited:
        state += ", but for the changed migrations named above"
    return f"migrail: database {alias!r} {state} ({seconds:.2f}s)"


class ProgressPrinter:
    """`  - unapplying shop.0002_price (0.01s)`: the name as a migration starts, its time as
    it ends, on one line. Anything printed meanwhile (the migration's own output, a notice
    that it waits for a lock) starts on a line of its own, and the time then follows on a
    line that names the migration again: `  - unapplied shop.0002_price (3.20s)`."""

    def __init__(self) -> None:
        self._watch: _OpenLine | None = None

    def __call__(self, step: Progress) -> None:
        verb = ("  - unapply" if step.backwards else "  + apply") + "ing"
        name = f"{step.key[0]}.{step.key[1]}"
        if step.seconds is None:
            sys.stdout.write(f"{verb} {name}")
            sys.stdout.flush()
            self._watch = _OpenLine(sys.stdout)
            sys.stdout = self._watch
            return
        watch, self._watch = self._watch, None
        if watch is not None:
            sys.stdout = watch.stream
        outcome = f"{'failed ' if step.failed else ''}({step.seconds:.2f}s)"
        if watch is None or not watch.open:
            done = verb if step.failed else ("  - unapplied" if step.backwards else "  + applied")
            sys.stdout.write(f"{done} {name} {outcome}\n")
        else:
            sys.stdout.write(f" {outcome}\n")
        sys.stdout.flush()


class _OpenLine:
    """Standard output while a progress line is open: the first other write closes it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.open = True

    def write(self, text: str) -> int:
        if self.open and text:
            self.open = False
            self.stream.write("\n")
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
