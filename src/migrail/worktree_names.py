"""`migrail.per_worktree(DATABASES)`: each linked worktree's own database names.

Called from settings, so it imports neither Django nor git and costs microseconds: the
linked worktree is found by walking up from the settings file (else the current
directory) to a `.git` *file* whose `gitdir:` points into `<common dir>/worktrees/NAME`
(a `.git` directory is the main worktree; a `gitdir:` elsewhere a submodule). The opt-in
is read from the files git reads it from — the repository's `config` (and the worktree's
`config.worktree`), the global `~/.gitconfig` (or `$GIT_CONFIG_GLOBAL`) and
`$XDG_CONFIG_HOME/git/config` — and `[tool.migrail]` of the worktree's `pyproject.toml`;
`include.path` and the system config are not followed (set the key in one of those).

Names: a server database gets `<snapshot_prefix><NAME>_<worktree>` (the worktree's name
lowercased, anything but `[a-z0-9_]` turned to `_`), within the engine's limit (PostgreSQL
63 bytes, MySQL/MariaDB 64 characters; cut, with a hash of the whole, when longer). A
SQLite file inside the worktree is already its own; one outside it gets a sibling file
`<dir>/<snapshot_prefix><stem>_<worktree><suffix>`.
"""

from __future__ import annotations

import os
import re
import sys

TYPE_CHECKING = False  # `typing` and `dataclasses` cost milliseconds; settings import this
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

PG_LIMIT_BYTES = 63  # NAMEDATALEN - 1
MYSQL_LIMIT_CHARS = 64
HASH_LENGTH = 8
_TRUE = {"true", "yes", "on", "1"}

# What the last `per_worktree` call of this process found: the main worktree's settings of
# each alias (the database a new worktree's copy is made from).
_MAIN: dict[str, dict[str, Any]] = {}


class LinkedWorktree:
    """A linked worktree, as its `.git` file names it."""

    def __init__(self, name: str, root: str, git_dir: str, common_dir: str) -> None:
        self.name = name  # the NAME in <common dir>/worktrees/NAME
        self.root = root  # the worktree's top directory
        self.git_dir = git_dir
        self.common_dir = common_dir

    @property
    def main_root(self) -> str | None:
        """The main worktree's top directory; None for a bare repository's worktrees."""
        if os.path.basename(self.common_dir) != ".git":
            return None
        return os.path.dirname(self.common_dir)


class Options:
    """The two settings `per_worktree` reads: on or off, and the prefix of names."""

    def __init__(self, enabled: bool = False, prefix: str = "") -> None:
        self.enabled = enabled
        self.prefix = prefix


def per_worktree(databases: Mapping[str, Any]) -> dict[str, Any]:
    """`databases` with each one named for this linked worktree; unchanged in the main
    worktree, outside git, or with `worktree_databases` off."""
    start = _caller_directory()
    linked = find_linked_worktree(start) if start else None
    if linked is None:
        linked = find_linked_worktree(os.getcwd())
    if linked is None:
        return dict(databases)
    options = read_options(linked)
    if not options.enabled:
        return dict(databases)
    renamed: dict[str, Any] = {}
    for alias, settings_dict in databases.items():
        renamed[alias] = worktree_settings(settings_dict, linked, options.prefix)
        _MAIN[alias] = main_settings(settings_dict, linked)
    return renamed


def main_databases() -> dict[str, dict[str, Any]]:
    """Per alias, the main worktree's settings, as the last `per_worktree` call found them
    (empty in the main worktree, or when settings do not call it)."""
    return dict(_MAIN)


def _caller_directory() -> str | None:
    """The directory of the file that called `per_worktree` (the settings module)."""
    try:
        filename = sys._getframe(2).f_globals.get("__file__")
    except ValueError:  # pragma: no cover - a shallow stack
        return None
    return os.path.dirname(os.path.abspath(filename)) if filename else None


def find_linked_worktree(start: str) -> LinkedWorktree | None:
    """The linked worktree holding `start`, or None (the main worktree, no repository)."""
    directory = os.path.abspath(start)
    while True:
        dot_git = os.path.join(directory, ".git")
        if os.path.isdir(dot_git):
            return None
        if os.path.isfile(dot_git):
            return _linked_from(directory, dot_git)
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _linked_from(root: str, dot_git: str) -> LinkedWorktree | None:
    try:
        with open(dot_git, encoding="utf-8", errors="replace") as handle:
            line = handle.readline().strip()
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    git_dir = os.path.normpath(os.path.join(root, line[len("gitdir:") :].strip()))
    if os.path.basename(os.path.dirname(git_dir)) != "worktrees":
        return None  # a submodule's .git file
    common = os.path.dirname(os.path.dirname(git_dir))
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as handle:
            common = os.path.normpath(os.path.join(git_dir, handle.read().strip()))
    except OSError:
        pass
    return LinkedWorktree(os.path.basename(git_dir), root, git_dir, common)


# -- the opt-in, read without running git -----------------------------------------------


def read_options(linked: LinkedWorktree) -> Options:
    values = _pyproject_values(os.path.join(linked.root, "pyproject.toml"))
    for path in _git_config_files(linked):
        values.update(_git_config_values(path))
    enabled = values.get("worktreedatabases", "false").lower() in _TRUE
    return Options(enabled, safe_prefix(values.get("snapshotprefix", "")))


def safe_prefix(prefix: str) -> str:
    """The prefix as it can start a database or file name: letters, digits and `_`."""
    return re.sub(r"[^A-Za-z0-9_]", "_", prefix)


def _git_config_files(linked: LinkedWorktree) -> list[str]:
    """Lowest precedence first, as git reads them."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    global_file = os.environ.get("GIT_CONFIG_GLOBAL") or os.path.join(home, ".gitconfig")
    return [
        os.path.join(xdg, "git", "config"),
        global_file,
        os.path.join(linked.common_dir, "config"),
        os.path.join(linked.git_dir, "config.worktree"),
    ]


_SECTION = re.compile(r'^\s*\[\s*([A-Za-z0-9.-]+)\s*(?:"[^"]*")?\s*\]\s*(.*)$')
_ENTRY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*?))?\s*$")


def _git_config_values(path: str) -> dict[str, str]:
    """`migrail.*` keys of one git config file, lowercased, `-`/`_` removed; last wins."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return {}
    if "migrail" not in text.lower():
        return {}
    values: dict[str, str] = {}
    section = ""
    for raw in text.splitlines():
        line = raw
        match = _SECTION.match(line)
        if match:
            section = match.group(1).lower() if '"' not in line else ""
            line = match.group(2)
        if section != "migrail":
            continue
        entry = _ENTRY.match(re.split(r"\s[#;]", " " + line, maxsplit=1)[0][1:])
        if entry:
            value = (entry.group(2) or ("true" if entry.group(2) is None else "")).strip()
            values[entry.group(1).replace("-", "").lower()] = value.strip('"')
    return values


def _pyproject_values(path: str) -> dict[str, str]:
    """`worktree_databases` and `snapshot_prefix` of `[tool.migrail]`, by a line scan."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return {}
    if "worktree" not in text and "snapshot_prefix" not in text:
        return {}
    values: dict[str, str] = {}
    inside = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("["):
            inside = line.replace(" ", "") == "[tool.migrail]"
            continue
        key, equals, value = line.partition("=")
        if inside and equals:
            values[key.strip().replace("_", "").replace("-", "").lower()] = value.strip().strip(
                "\"'"
            )
    return values


# -- names (pure) ---------------------------------------------------------------------


def suffix_for(worktree_name: str) -> str:
    """The worktree's name as a database name's part: itself when it is already lowercase
    letters, digits and `_`; else cleaned, with a short hash of the name git gave, so two
    worktrees whose names clean alike (`wt-x`, `wt_x`, `WT-X`) never share a database."""
    cleaned = re.sub(r"[^a-z0-9_]+", "_", worktree_name.lower()).strip("_") or "worktree"
    if cleaned == worktree_name:
        return cleaned
    import hashlib

    return f"{cleaned}_{hashlib.sha256(worktree_name.encode()).hexdigest()[:6]}"


def server_database_name(name: str, worktree_name: str, engine: str, prefix: str = "") -> str:
    """`<prefix><name>_<worktree>`, cut to the engine's limit with a hash when longer."""
    full = f"{prefix}{name}_{suffix_for(worktree_name)}"
    mysql = "mysql" in engine
    if (len(full) if mysql else len(full.encode())) <= (
        MYSQL_LIMIT_CHARS if mysql else PG_LIMIT_BYTES
    ):
        return full
    import hashlib

    tail = "_" + hashlib.sha256(full.encode()).hexdigest()[:HASH_LENGTH]
    head = full
    while (len(head + tail) if mysql else len((head + tail).encode())) > (
        MYSQL_LIMIT_CHARS if mysql else PG_LIMIT_BYTES
    ):
        head = head[:-1]
    return head + tail


def is_sqlite(settings_dict: Mapping[str, Any]) -> bool:
    """A file database, by its ENGINE's path (Django's `sqlite3`, GeoDjango's `spatialite`,
    wrappers that keep the name). Not `engines.stores_in_file`: that may import a backend's
    module, which a settings module must not do while it is being imported."""
    engine = str(settings_dict.get("ENGINE", ""))
    return "sqlite" in engine or engine.endswith(".spatialite")


def _sqlite_file(name: object) -> bool:
    text = str(name or "")
    return text not in ("", ":memory:") and not text.startswith("file:")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def worktree_settings(
    settings_dict: Mapping[str, Any], linked: LinkedWorktree, prefix: str = ""
) -> dict[str, Any]:
    """One database's settings in `linked`, from its settings there (or the main's)."""
    renamed = dict(settings_dict)
    name = settings_dict.get("NAME")
    if is_sqlite(settings_dict):
        if not _sqlite_file(name) or not os.path.isabs(str(name)):
            return renamed  # relative: opened inside the worktree's project directory
        path = str(name)
        main_root = linked.main_root
        if _inside(path, linked.root):
            return renamed
        if main_root and _inside(path, main_root):
            moved = os.path.join(linked.root, os.path.relpath(path, main_root))
        else:
            directory, base = os.path.split(path)
            stem, dot, extension = base.partition(".")
            moved = os.path.join(
                directory, f"{prefix}{stem}_{suffix_for(linked.name)}{dot}{extension}"
            )
        renamed["NAME"] = _same_type(name, moved)
        return renamed
    if name:
        engine = str(settings_dict.get("ENGINE", ""))
        renamed["NAME"] = server_database_name(str(name), linked.name, engine, prefix)
    return renamed


def main_settings(settings_dict: Mapping[str, Any], linked: LinkedWorktree) -> dict[str, Any]:
    """The main worktree's settings of a database, from the linked worktree's settings: the
    same, but for a SQLite file inside the worktree (the main's is at the same place in it)."""
    main = dict(settings_dict)
    name = settings_dict.get("NAME")
    main_root = linked.main_root
    if is_sqlite(settings_dict) and _sqlite_file(name) and os.path.isabs(str(name)) and main_root:
        path = str(name)
        if _inside(path, linked.root):
            moved = os.path.join(main_root, os.path.relpath(path, linked.root))
            main["NAME"] = _same_type(name, moved)
    return main


def _same_type(name: object, path: str) -> Any:
    """`path` as a `Path` when settings gave one (`BASE_DIR / "db.sqlite3"`), else a string."""
    if isinstance(name, os.PathLike):
        from pathlib import Path

        return Path(path)
    return path
