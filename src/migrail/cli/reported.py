"""How the executable reports a command's end: one home for `cli.entry`'s fast path and
`cli.main`'s parser."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def reported(command: Callable[[], int]) -> int:
    """Run a command as the executable does: a `MigrailError` is one line and its exit
    status, an interrupt exit 130, a closed pipe quiet."""
    from migrail.errors import EXIT_FINDINGS, MigrailError

    try:
        return command()
    except MigrailError as err:
        print(f"migrail: error: {err}", file=sys.stderr)
        return err.exit_status
    except KeyboardInterrupt:
        print("migrail: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `migrail status | head`: the reader left; say nothing more, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FINDINGS
