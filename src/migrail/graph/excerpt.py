"""Short, one-line excerpts of file content for messages.

A message may quote what a file says (a name in `max_migration.txt`, a
dependency, Python's complaint about a line) but never more than a few words
of it: a file can be a link to a secret, or a megabyte on one line.
"""

from __future__ import annotations

LIMIT = 60


def excerpt(text: str, limit: int = LIMIT) -> str:
    """`text` on one line, control characters escaped, cut to `limit` characters."""
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit + 1])
    return line if len(line) <= limit and len(text) <= limit else line[: limit - 1] + "…"
