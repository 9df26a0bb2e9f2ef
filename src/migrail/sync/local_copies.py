"""The untracked local files an old commit's tree is given for a rollback with its code.

`config/local.py` or `settings/dev.py` are often untracked, and settings read `.env`
files git ignores: without them the old commit's settings would not import. They often
hold secrets, and the old tree is the commit's, links included: a `config` that is a
link to a directory elsewhere must not receive them. So a copy goes only where every
parent in the old tree is a real directory inside it, is created afresh (`O_EXCL`,
never over a file the commit has, never through a link: `O_NOFOLLOW`), mode 0600, and
never reads a link on the live side either.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from migrail.sources.gitrepo import GitRepo

LOCAL_FILE_LIMIT = 1024 * 1024  # bytes: a local configuration file, not data
LOCAL_DIRECTORY_FILES = 50  # files: `.envs/`, not a virtualenv or node_modules


def bring_local_files(tree_dir: Path, repo: GitRepo, old: Path | None = None) -> None:
    """The settings package's untracked modules, then the project directory's local files
    (`old`: the project directory in the tree, when the caller has it)."""
    from migrail.sync.settings import project_directory

    live = project_directory()
    old = old or project_dir_in(tree_dir, repo)
    if not real_directory_in(tree_dir, old):
        return  # the project directory is a link in the old tree: nothing goes through it
    _bring_local_settings(live, repo, tree_dir)
    _bring_top_level_files(live, old, tree_dir)


def _bring_local_settings(live_project: Path, repo: GitRepo, tree_dir: Path) -> None:
    """The live settings package's modules the old tree's copy of it lacks: the package as
    this process imported it (`src/config/settings/` for `config.settings.local`), placed
    in the old tree where it is in the repository."""
    module = os.environ.get("DJANGO_SETTINGS_MODULE", "")
    if "." not in module:
        return  # a top-level module: the live project directory is on the child's path
    loaded = getattr(sys.modules.get(module), "__file__", None)
    live = Path(loaded).parent if loaded else live_project / Path(*module.split(".")[:-1])
    try:
        old = tree_dir / live.resolve().relative_to(repo.root.resolve())
    except ValueError:
        return  # outside the repository: the child imports it where it is
    if not live.is_dir() or not real_directory_in(tree_dir, old):
        return  # absent, or a link in the old tree (to anywhere): skipped
    for source in sorted(live.glob("*.py")):
        copy_private(source, old / source.name)


def _bring_top_level_files(live: Path, old: Path, tree_dir: Path) -> None:
    """The untracked files at the top of the project directory that settings read (`.env`,
    django-environ's and pydantic's env files, cookiecutter-django's `.envs/`): small
    files, and dot-directories of a few small files; never a link, never over the commit's."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--others", "--directory", "--", "."],
        cwd=live,
        capture_output=True,
        check=False,
    ).stdout
    for entry in os.fsdecode(listed).split("\0"):
        name = entry.rstrip("/")
        if not name or "/" in name or name in (".git", "..", "."):
            continue
        source = live / name
        if source.is_symlink():
            continue
        if source.is_file():
            copy_private(source, old / name)
        elif source.is_dir() and name.startswith(".") and _small_directory(source):
            _copy_directory(source, old / name, tree_dir)


def _copy_directory(source: Path, target: Path, tree_dir: Path) -> None:
    try:
        target.mkdir(mode=0o700)
    except OSError:
        return  # the commit has it (or a link there): left as it is
    for path in sorted(source.rglob("*")):
        inside = target / path.relative_to(source)
        if path.is_dir() and not path.is_symlink():
            if real_directory_in(tree_dir, inside.parent):
                inside.mkdir(mode=0o700, exist_ok=True)
        elif real_directory_in(tree_dir, inside.parent):
            copy_private(path, inside)


def _small_directory(directory: Path) -> bool:
    files = 0
    for path in directory.rglob("*"):
        if path.is_symlink():
            return False
        if path.is_file():
            files += 1
            if files > LOCAL_DIRECTORY_FILES or path.stat().st_size > LOCAL_FILE_LIMIT:
                return False
    return True


def real_directory_in(tree_dir: Path, directory: Path) -> bool:
    """Is `directory` a directory under `tree_dir` reached through no link at all?"""
    try:
        relative = directory.relative_to(tree_dir)
    except ValueError:
        return False
    current = tree_dir
    for part in relative.parts:
        current = current / part
        if current.is_symlink() or not current.is_dir():
            return False
    return Path(os.path.realpath(directory)) == Path(os.path.realpath(tree_dir)) / relative


def copy_private(source: Path, target: Path) -> bool:
    """Copy a small regular file to a new file `target`, 0600; False when it is not copied
    (a link or not a file on either side, too large, `target` already there)."""
    try:
        fd_in = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    with os.fdopen(fd_in, "rb") as reader:
        info = os.fstat(reader.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > LOCAL_FILE_LIMIT:
            return False
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            fd_out = os.open(target, flags, 0o600)
        except OSError:
            return False
        with os.fdopen(fd_out, "wb") as writer:
            writer.write(reader.read(LOCAL_FILE_LIMIT + 1))
    return True


def project_dir_in(tree_dir: Path, repo: GitRepo) -> Path:
    from migrail.sources.config import load_config
    from migrail.sources.settings_location import project_directory_of

    directory = project_directory_of(tree_dir, load_config(tree_dir, git_root=repo.root))
    return directory if directory.is_dir() else tree_dir
