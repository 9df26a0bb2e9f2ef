"""Parse many migration files from disk on every core: a cold check of a large tree.

This process and one forked child per other core (Linux only: forking is cheap there and
safe before any GitPython process exists) each read and parse a share of the files; a
child sends its results back pickled through a pipe. Below a few hundred files, or
elsewhere, parsing stays in this process.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
from pathlib import Path

from migrail.graph.parser import ParseProblem, parse_migration, source_warnings_ignored
from migrail.sources.parse_cache import ParseCache, Parsed
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


class ParsingAhead:
    """Files parsed by forked children while this process goes on: a cold check parses what
    git's index lists while git looks at the work tree and the packages are sorted out.

    A result fills the cache only for a file the work tree still holds as the index does (a
    file modified on disk is parsed again, from what was read of it); a child that fails has
    its share parsed in the usual way. `discard` ends children whose results are not wanted.
    """

    def __init__(self, root: Path, files: dict[str, str]) -> None:
        self._files = files  # path -> the index's blob id
        _worker_root[:] = [root]
        workers = min(os.cpu_count() or 1, 8)  # this process waits: every core parses
        paths = list(files)
        shares = [paths[n::workers] for n in range(workers)]
        self._children = [(*_fork_parsing(share), share) for share in shares]

    def fill(self, cache: ParseCache, entries: dict[str, str]) -> None:
        children, self._children = self._children, []
        for pid, reading, share in children:
            for path, parsed in zip(share, _collect(pid, reading) or [], strict=False):
                blob = self._files[path]
                if entries.get(path) == blob and not _unreadable(parsed):
                    cache.put(blob, parsed)

    def discard(self) -> None:
        children, self._children = self._children, []
        for pid, reading, _ in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.close(reading)
            os.waitpid(pid, 0)


def _unreadable(parsed: Parsed) -> bool:
    return isinstance(parsed, ParseProblem) and parsed.kind == "unreadable"


def _fork_parsing(share: list[str]) -> tuple[int, int]:
    """A child that parses `share` and writes the results to a pipe: (its pid, the pipe)."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            gc.disable()  # every object it makes lives until it exits
            os.close(reading)
            with source_warnings_ignored():
                results = [_parse_one(path) for path in share]
            data = pickle.dumps(results, pickle.HIGHEST_PROTOCOL)
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
