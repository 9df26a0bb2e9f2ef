"""Cache files under git's common directory: a pure speed-up, so a missing or
corrupt file reads as nothing, and a write is atomic or not at all."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

UNREADABLE = (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError)


def load_pickle(path: Path) -> object | None:
    try:
        with path.open("rb") as fh:
            value: object = pickle.load(fh)
    except UNREADABLE:
        return None
    return value


def store_pickle(path: Path, value: object) -> None:
    # A name of its own, as `tempfile.mkstemp` makes one (whose import is a tenth of a warm
    # check's start).
    tmp = path.with_name(f".{path.name}-{os.getpid()}-{os.urandom(6).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except (OSError, pickle.PicklingError, AttributeError, TypeError, RecursionError):
        tmp.unlink(missing_ok=True)  # a value that cannot be pickled, as a full disk: no write
