"""Every import root inside the work tree pointed at an older commit's tree.

The child that rolls back with an older commit's code must import *that* commit's
modules wherever the project imports its own code from: the project directory,
`PYTHONPATH` entries, a `src/` directory, and editable installs (`pip install -e .`:
setuptools' static `.pth` lines, already on `sys.path`, and its import finders,
whose `MAPPING` names each top-level package's directory). Each root inside the live
work tree is replaced by the same path inside the old tree; the live entries stay
after them, for the untracked local modules (settings, `.env` readers) the commit
never had.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path


def old_tree_path(entries: Iterable[str], live_root: Path, tree_root: Path) -> list[str]:
    """`sys.path` with every entry inside `live_root` replaced by its twin in `tree_root`
    (when the old tree has it) and the live entries kept after all of those."""
    moved, live, others = [], [], []
    for entry in entries:
        twin = _twin(entry or ".", live_root, tree_root)
        if twin is None:
            others.append(entry)
            continue
        if twin != Path(entry or ".").absolute().resolve():
            live.append(entry)
        if twin.is_dir() and str(twin) not in moved:
            moved.append(str(twin))
    return moved + [e for e in live if e] + others


def point_editable_finders(live_root: Path, tree_root: Path) -> list[str]:
    """Setuptools' editable finders (`__editable___*_finder`) loaded at start-up: each
    package they map into the live work tree is mapped into the old tree instead.
    Returns the packages moved."""
    moved = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("__editable__") or module is None:
            continue
        mapping = getattr(module, "MAPPING", None)
        if isinstance(mapping, dict):
            for package, location in mapping.items():
                twin = _twin(str(location), live_root, tree_root)
                if twin is not None and twin.exists():
                    mapping[package] = str(twin)
                    moved.append(package)
        namespaces = getattr(module, "NAMESPACES", None)
        if isinstance(namespaces, dict):
            for package, locations in namespaces.items():
                twins = [_twin(str(p), live_root, tree_root) for p in locations]
                namespaces[package] = [
                    str(t) if t is not None and t.exists() else p
                    for p, t in zip(locations, twins, strict=True)
                ]
    return moved


def _twin(entry: str, live_root: Path, tree_root: Path) -> Path | None:
    """The path in `tree_root` standing where `entry` stands in `live_root`; None outside."""
    path = Path(entry).absolute()
    try:
        resolved = path.resolve()
    except OSError:
        return None
    tree = tree_root.resolve()
    if resolved == tree or tree in resolved.parents:
        return resolved  # already the old tree's (it lies under git's directory)
    root = live_root.resolve()
    if resolved != root and root not in resolved.parents:
        return None
    return tree / resolved.relative_to(root)
