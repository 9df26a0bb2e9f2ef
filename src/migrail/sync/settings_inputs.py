"""What importing the settings read, so a later process can tell without Django whether the
same import would give the same settings.

While the settings module is imported (`recording`), an audit hook (`sys.addaudithook`)
notes the files opened, the directories listed and the patterns globbed, and the modules
the import added are noted after it. A settings import that runs a program, opens a socket
or asks for the host name cannot be told so: `opaque` says which.

`fingerprint` hashes what those inputs hold now (file contents, listings, glob results),
with the interpreter, the environment (less what git, shells and pre-commit change from
run to run) and the project directory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Set by git, shells and pre-commit, different from run to run; never what settings read.
VOLATILE_ENVIRONMENT = ("GIT_", "PRE_COMMIT", "OLDPWD", "PWD", "SHLVL", "_", "MIGRAIL_")
# Named in the fingerprint as the settings module it resolves to (migrail sets it itself).
RESOLVED_ENVIRONMENT = ("DJANGO_SETTINGS_MODULE",)
OPAQUE_EVENTS = ("subprocess.", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "socket.")


@dataclass
class SettingsInputs:
    """What one settings import read."""

    files: set[str] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)
    globbed: set[str] = field(default_factory=set)
    opaque: str | None = None  # the event that makes the import's result untellable
    # The environment the import started with (Django sets TZ as it reads the settings).
    environment: dict[str, str] = field(default_factory=dict, compare=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "files": sorted(self.files),
            "listed": sorted(self.listed),
            "globbed": sorted(self.globbed),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SettingsInputs:
        def strings(key: str) -> set[str]:
            values = data.get(key)
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise ValueError(f"{key} is not a list of paths")
            return set(values)

        return cls(strings("files"), strings("listed"), strings("globbed"))


_recording: list[SettingsInputs] = []  # the import being recorded, if any
_last: list[SettingsInputs] = []  # the last import recorded in this process


def last_recorded() -> SettingsInputs | None:
    """What this process's settings import read, if it was recorded and can be told."""
    if not _last or _last[-1].opaque is not None:
        return None
    return _last[-1]


@contextmanager
def recording() -> Iterator[None]:
    """Record what the settings import in this block reads (see the module's docstring)."""
    inputs = SettingsInputs(environment=dict(os.environ))
    before = set(sys.modules)
    _skipped_roots()  # worked out before the hook can need it
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked.append(True)
    _recording.append(inputs)
    try:
        yield
    finally:
        _recording.remove(inputs)
    for name in set(sys.modules) - before:
        path = getattr(sys.modules.get(name), "__file__", None)
        if isinstance(path, str) and _kept(path):
            inputs.files.add(os.path.abspath(path))
    _last[:] = [inputs]


_hooked: list[bool] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _recording:
        return
    inputs = _recording[-1]
    if event == "open":
        path, mode = args[0], args[1]
        writing = isinstance(mode, str) and any(flag in mode for flag in "wax+")
        if isinstance(path, (str, bytes, os.PathLike)) and not writing:
            path = os.fsdecode(path)
            if not path.endswith(".pyc") and _kept(path):
                inputs.files.add(os.path.abspath(path))
    elif event == "os.listdir":
        path = os.fsdecode(args[0]) if args[0] is not None else "."
        if _kept(path):
            inputs.listed.add(os.path.abspath(path))
    elif event == "glob.glob":
        inputs.globbed.add(os.path.join(os.getcwd(), os.fsdecode(args[0])))
    elif event.startswith(OPAQUE_EVENTS) and inputs.opaque is None:
        inputs.opaque = event


def _without_git_core(path: str) -> str:
    """PATH less the directory git puts first for its hooks (`…/git-core`)."""
    return os.pathsep.join(
        entry for entry in path.split(os.pathsep) if os.path.basename(entry) != "git-core"
    )


def _kept(path: str) -> bool:
    return not os.path.abspath(path).startswith(_skipped_roots())


@functools.cache
def _skipped_roots() -> tuple[str, ...]:
    """Python's own library, and what is no file: never what settings differ by."""
    import sysconfig

    paths = sysconfig.get_paths()
    return tuple({paths["stdlib"], paths["platstdlib"], "/dev/", "/proc/"})


def fingerprint(
    inputs: SettingsInputs, environment: Mapping[str, str], project: Path, extra: object
) -> str:
    """What `inputs` hold now, with the interpreter, `environment` (the process's, or the
    one the recorded import started with), project and `extra`."""
    import glob

    digest = hashlib.sha256()
    named = sorted(
        (name, _without_git_core(value) if name == "PATH" else value)
        for name, value in environment.items()
        if not name.startswith(VOLATILE_ENVIRONMENT) and name not in RESOLVED_ENVIRONMENT
    )
    head = [sys.executable, str(project), named, repr(extra)]
    digest.update(json.dumps(head).encode())
    for path in sorted(inputs.files):
        digest.update(f"\0file {path}\0".encode())
        try:
            digest.update(Path(path).read_bytes())
        except OSError as err:
            digest.update(f"unreadable {err.errno}".encode())
    for path in sorted(inputs.listed):
        try:
            names = sorted(os.listdir(path))
        except OSError as err:
            names = [f"unreadable {err.errno}"]
        digest.update(f"\0listed {path}\0".encode() + "\0".join(names).encode())
    for pattern in sorted(inputs.globbed):
        found = sorted(glob.glob(pattern, recursive=True))
        digest.update(f"\0glob {pattern}\0".encode() + "\0".join(found).encode())
    return digest.hexdigest()
