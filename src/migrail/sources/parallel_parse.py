"""Parse many migration files from disk on every core: a cold check of a large tree.

`parse_files`: this process and one forked child per other core (Linux only: forking is
cheap there and safe before any GitPython process exists) each read and parse a share of
the files; a child sends its results back pickled through a pipe. `ParsingAhead`: a child
per core parses what git's index lists while this process goes on. Below a few hundred
files, or elsewhere, parsing stays in this process.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from migrail.graph.parser import ParseProblem, parse_migration, source_warnings_ignored
from migrail.sources.parse_cache import ParseCache, Parsed
from migrail.sources.pickle_file import UNREADABLE
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
    children = [(_fork(partial(_parse_share, share)), share) for share in shares[1:]]
    parsed: list[list[Parsed]] = [_parse_share(shares[0])]
    for (pid, reading), share in children:
        results = _loaded(_collect(pid, reading))
        parsed.append(results if isinstance(results, list) else _parse_share(share))
    ordered: list[Parsed] = [ParseProblem("unreadable", 1, "")] * len(paths)
    for number, results in enumerate(parsed):
        ordered[number::workers] = results
    return ordered


class ParsingAhead:
    """Files parsed by forked children while this process goes on: a cold check parses what
    git's index lists while git looks at the work tree and the packages are sorted out.

    Each child sends its parses by blob id, pickled; they fill the cache as they came, and are
    saved as they came (not pickled again), unless a file changed on disk since the index
    was written: the blob of such a file is left out, to be parsed again from what was read
    of it. A child that fails has its share parsed in the usual way; `discard` ends children
    whose results are not wanted.
    """

    def __init__(self, root: Path, files: dict[str, str]) -> None:
        self._files = files  # path -> the index's blob id
        _worker_root[:] = [root]
        workers = min(os.cpu_count() or 1, 8)  # this process waits: every core parses
        paths = list(files)
        shares = [paths[n::workers] for n in range(workers)]
        self._children = [_fork(partial(_parse_by_blob, share, files)) for share in shares]

    def fill(self, cache: ParseCache, entries: dict[str, str]) -> None:
        children, self._children = self._children, []
        changed = {blob for path, blob in self._files.items() if entries.get(path) != blob}
        for pid, reading in children:
            data = _collect(pid, reading)
            parsed = _loaded(data)
            if not isinstance(parsed, dict) or data is None:
                continue
            if changed.isdisjoint(parsed):
                cache.add_pickled(data, parsed)
            else:
                for blob in parsed.keys() - changed:
                    cache.put(blob, parsed[blob])

    def discard(self) -> None:
        children, self._children = self._children, []
        for pid, reading in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.close(reading)
            os.waitpid(pid, 0)


def _parse_share(share: list[str]) -> list[Parsed]:
    with source_warnings_ignored():
        return [_parse_one(path) for path in share]


def _parse_by_blob(share: list[str], files: dict[str, str]) -> dict[str, Parsed]:
    """The parses of `share` by blob id, but for the files that could not be read."""
    return {
        files[path]: parsed
        for path, parsed in zip(share, _parse_share(share), strict=True)
        if not (isinstance(parsed, ParseProblem) and parsed.kind == "unreadable")
    }


def _fork(work: Callable[[], object]) -> tuple[int, int]:
    """A child that does `work` and writes its result, pickled, to a pipe: (its pid, the
    pipe)."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 1
        try:
            gc.disable()  # every object it makes lives until it exits
            os.close(reading)
            data = pickle.dumps(work(), pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writing, "wb") as out:
                out.write(data)
            status = 0
        finally:
            os._exit(status)
    os.close(writing)
    return pid, reading


def _collect(pid: int, reading: int) -> bytes | None:
    """What the child wrote, or None when it failed."""
    with os.fdopen(reading, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    return data if status == 0 and data else None


def _loaded(data: bytes | None) -> object:
    if data is None:
        return None
    try:
        return pickle.loads(data)
    except UNREADABLE:
        return None


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
