"""The old code's child, started before it is needed (see `old_code_rollback`).

The child's start (the interpreter, migrail's modules, Django's own modules: about
0.2 s) needs nothing the parent has yet to learn, so it starts as the commit's files
start being written (`old_tree.start_with_each_tree`: with `prepare`, before the parent
sets Django up) and waits on a pipe for the spec. Nothing of the project is imported
before the spec comes; then the child takes the working directory, environment and
`sys.argv` it would have started with, and the spec's `sys.path`. Should anything it
imported early not be what that path imports (a Django inside the old tree, say), or a
variable Python reads at start-up differ from the spec's, it execs itself as the child
started then would have started, so the rollback runs as it always did.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from migrail.errors import EXIT_FINDINGS

PARENT_PID = "MIGRAIL_ROLLBACK_PARENT"
PR_SET_PDEATHSIG = 1
# An interrupt (Ctrl-C reaches the whole process group) ends the child quietly: the
# parent, interrupted too, says what was left and what finishes it.
CHILD = """import sys
try:
    from migrail.sync.old_code_rollback import {0}
    sys.exit({0}(sys.argv[1]))
except KeyboardInterrupt:
    sys.exit(130)
"""
COLD = CHILD.format("child_main")
WARM = CHILD.format("warm_main")
# Read by Python as it starts (or, for relative PYTHONPATH entries, against the
# directory it starts in): a child that started with other values cannot stand in.
STARTUP_VARIABLES = ("PYTHON", "LANG", "LC_", "HOME")
# Django's modules that `django.setup()`, the loader and the executor import whatever
# the project, and migrail's that the child imports; none reads settings on import.
PRELOAD = (
    "django.urls",
    "django.utils.log",
    "django.apps",
    "django.db.models",
    "django.db.models.sql.compiler",
    "django.db.backends.base.base",
    "django.db.backends.base.schema",
    "django.db.backends.base.introspection",
    "django.db.migrations.executor",
    "django.db.migrations.loader",
    "django.db.migrations.recorder",
    "django.core.management.sql",
    "django.core.checks",
    "migrail.sync.old_code_rollback",
    "migrail.sync.loader",
    "migrail.sync.output",
    "migrail.sync.rollback",
    "migrail.sync.old_code_paths",
    "migrail.sync.old_code_bytecode",
    "migrail.sources.settings_location",
)


_BY_TREE: dict[Path, WarmChild] = {}


def child_environment() -> dict[str, str]:
    """The child's environment: this process's, with the caller's settings module."""
    from migrail.sync.settings import caller_settings_module

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    caller = caller_settings_module()
    if caller:
        env["DJANGO_SETTINGS_MODULE"] = caller
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env[PARENT_PID] = str(os.getpid())
    return env


class WarmChild:
    """A child Python for one commit's tree, waiting for its spec (the parent's side)."""

    def __init__(self, tree_dir: Path) -> None:
        self.tree_dir = tree_dir
        self.process: subprocess.Popen[bytes] | None = None
        self._pipe: int | None = None
        read, write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", WARM, str(read)],
                cwd=tree_dir.parent,
                env=child_environment(),
                pass_fds=(read,),
            )
            self._pipe = write
        except OSError:
            os.close(write)  # started later the usual way, which says why it cannot
        finally:
            os.close(read)
        _BY_TREE[tree_dir] = self

    @classmethod
    def start(cls, repo: Any, tree_dir: Path) -> WarmChild:
        return cls(tree_dir)

    @classmethod
    def run(cls, tree_dir: Path, spec_path: Path, cwd: Path, env: dict[str, str]) -> int:
        """Run the child on `spec_path` (the tree's warm child, else one started now);
        its exit status."""
        warm = _BY_TREE.pop(tree_dir, None)
        if warm is not None and warm.process is not None and warm._pipe is not None:
            process, pipe = warm.process, warm._pipe
            warm._pipe = None
            try:
                os.write(pipe, os.fsencode(spec_path) + b"\n")
            except OSError:
                process.kill()  # it died waiting; started again below
                process.wait()
            else:
                return _wait(process)
            finally:
                os.close(pipe)
        command = [sys.executable, "-c", COLD, str(spec_path)]
        return _wait(subprocess.Popen(command, cwd=cwd, env=env))

    def discard(self) -> None:
        """Not needed after all: stopped (it has imported nothing of the project)."""
        _BY_TREE.pop(self.tree_dir, None)
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            self.process.wait()


def _wait(process: subprocess.Popen[bytes]) -> int:
    """As `subprocess.run` waits: the child is killed if this process is interrupted."""
    with process:
        try:
            return process.wait()
        except BaseException:
            process.kill()
            raise


def die_with_parent() -> None:
    """A rollback never outlives the sync that holds the database's lock for it.

    Killed (kill -9), the parent's lock is released; a child going on alone could
    interleave with the next sync. On Linux the kernel kills the child with it.
    """
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if str(os.getppid()) != os.environ.get(PARENT_PID, str(os.getppid())):
        os._exit(EXIT_FINDINGS)  # the parent died before the line above took effect


class Warm:
    """The child's side: what it imported before the spec came, and how it started."""

    def __init__(self) -> None:
        self.started_with = dict(os.environ)
        self.cwd_entry = sys.path[0] == ""
        if self.cwd_entry:
            del sys.path[0]  # nothing is imported from where it waits
        before = set(sys.modules)
        self.usable = not _relative_pythonpath() and _preload()
        self.preloaded = set(sys.modules) - before

    def enter(self, spec_path: str, cwd: str, env: dict[str, str]) -> None:
        """Become the child started in `cwd` with `env` on `spec_path`, or exec it."""
        os.chdir(cwd)
        sys.argv[1:] = [spec_path]
        if self.cwd_entry:
            sys.path.insert(0, "")
        if not self.usable or _startup(env) != _startup(self.started_with):
            self.exec_cold(spec_path, env)
        zone = os.environ.get("TZ")
        os.environ.clear()
        os.environ.update(env)
        if env.get("TZ") != zone:  # the parent's Django set it: `time` reads it again
            import time

            time.tzset()
        self.env = env

    @staticmethod
    def spec_path(fd: str) -> str | None:
        """The spec's path, when the parent writes it on pipe `fd`; None: not needed."""
        with os.fdopen(int(fd), "rb") as pipe:
            line = pipe.readline()
        return os.fsdecode(line[:-1]) if line.endswith(b"\n") else None

    def check_imports(self, spec_path: str) -> None:
        """With the old tree's `sys.path` in place: exec the cold child if a module
        imported early is not the one this path would import."""
        if _shadowed(self.preloaded):
            self.exec_cold(spec_path, self.env)

    @staticmethod
    def exec_cold(spec_path: str, env: dict[str, str]) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, "-c", COLD, spec_path], env)


def _relative_pythonpath() -> bool:
    entries = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    return any(entry and not os.path.isabs(entry) for entry in entries)


def _preload() -> bool:
    import importlib

    try:
        for name in PRELOAD:
            importlib.import_module(name)
    except Exception:
        return False  # the cold child meets it again, and says what it is
    return True


def _startup(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(STARTUP_VARIABLES)}


def _shadowed(names: set[str]) -> bool:
    """Whether a top-level module among `names` would now be found elsewhere than where it
    was loaded from (the import system's finders asked, in their order)."""
    tops = {name.partition(".")[0] for name in names} - {"migrail", "__main__"}
    for top in sorted(tops):
        module = sys.modules.get(top)
        if module is None:
            continue
        loaded = getattr(getattr(module, "__spec__", None), "origin", None)
        found = None
        try:
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                found = find(top, None) if find is not None else None
                if found is not None:
                    break
        except Exception:
            return True  # a finder that cannot say: as the cold child would find it
        if found is None or found.origin != loaded:
            return True
    return False
