"""Parse many migration files from disk on every core: a cold check of a large tree.

This process and one forked child per other core (Linux only: forking is cheap there and
safe before any GitPython process exists) each read and parse a share of the files; a
child sends its results back pickled through a pipe. Below a few hundred files, or
elsewhere, parsing stays in this process.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

from migrail.graph.parser import ParseProblem, parse_migration
from migrail.sources.parse_cache import Parsed
from migrail.sources.trees import Unreadable, read_inside

THRESHOLD = 400
_worker_root: list[Path] = []  # set before forking; the children inherit it


def worth_it(count: int) -> bool:
    """Enough files, on Linux, with another core, and no other thread (a fork then copies
    locks another thread may hold)."""
    import threading

    return (
        sys.platform == "linux"
        and count >= THRESHOLD
        and (os.cpu_count() or 1) > 1
        and threading.active_count() == 1
    )


def parse_files(root: Path, paths: list[str]) -> list[Parsed]:
    """Each path's parse, in order. A child that fails has its share parsed here."""
    _worker_root[:] = [root]
    workers = min(os.cpu_count() or 1, 8)
    shares = [paths[number::workers] for number in range(workers)]  # similar sizes, mixed
    children = [(_fork_parsing(share), share) for share in shares[1:]]
    parsed: list[list[Parsed]] = [[_parse_one(path) for path in shares[0]]]
    for (pid, reading), share in children:
        parsed.append(_collect(pid, reading) or [_parse_one(path) for path in share])
    ordered: list[Parsed] = [ParseProblem("unreadable", 1, "")] * len(paths)
    for number, results in enumerate(parsed):
        ordered[number::workers] = results
    return ordered


def _fork_parsing(share: list[str]) -> tuple[int, int]:
    """A child that parses `share` and writes the results to a pipe: (its pid, the pipe)."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(reading)
            data = pickle.dumps([_parse_one(path) for path in share], pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writing, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(writing)
    return pid, reading


def _collect(pid: int, reading: int) -> list[Parsed] | None:
    """What the child wrote, or None when it failed."""
    with os.fdopen(reading, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return None
    try:
        results: list[Parsed] = pickle.loads(data)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        return None
    return results


def _parse_one(path: str) -> Parsed:
    root = _worker_root[0]
    try:
        # Not through a symbolic link: one of those is looked at by `read_inside`.
        data = _read_file(f"{root}/{path}")
    except OSError:
        try:
            data = read_inside(root, path)
        except Unreadable as err:
            return ParseProblem("unreadable", 1, f"cannot be read: {err}")
    return parse_migration(data)


def _read_file(path: str) -> bytes:
    """The whole file in five system calls (open, fstat, two reads, close): a buffered file
    object adds an `isatty`, two `lseek`s and a second `fstat`, 0.1 s of a cold check's CPU."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        chunks = [os.read(fd, os.fstat(fd).st_size + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 16))
        return b"".join(chunks)
    finally:
        os.close(fd)
