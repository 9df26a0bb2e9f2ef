"""Which migrations were ever squashes: the `replaces` any commit gave a migration file.

Django's squash procedure ends by deleting the replaced migrations and the squash's
`replaces` attribute. A database migrated before that records both the replaced
migrations and the squash; only history says they are one and the same schema, so
neither is rolled back as an orphan of the other.
"""

from __future__ import annotations

from collections.abc import Sequence

from migrail.graph.parser import Key, ParsedMigration, parse_migration
from migrail.sources.gitrepo import GitRepo
from migrail.sources.pickle_file import load_pickle, store_pickle


def replaces_in_history(repo: GitRepo, directories: Sequence[str]) -> dict[str, frozenset[Key]]:
    """Repository path of each migration file in `directories` that some commit (on any ref
    or in the reflog) wrote with `replaces` → the migrations it named there.

    One `git log -G` finds the commits that changed a `replaces` line; each such file is
    read as that commit and its parents had it (the squash's addition, or its removal).
    """
    if not directories:
        return {}
    asked = (str(repo.root), tuple(directories))
    if asked not in _seen:  # a sync asks before and while it plans
        _seen[asked] = _read_since_last_time(repo, tuple(directories))
    return _seen[asked]


_seen: dict[tuple[str, tuple[str, ...]], dict[str, frozenset[Key]]] = {}
CACHE = "squash-history.pickle"  # under git's migrail directory: {directories: (tips, found)}


def _read_since_last_time(repo: GitRepo, directories: tuple[str, ...]) -> dict[str, frozenset[Key]]:
    """What history says, reading only the commits no earlier sync read: the tips (refs and
    reflog entries) it read up to are kept with its findings, and excluded from the walk."""
    path = repo.migrail_dir / CACHE
    cached = load_pickle(path)
    cache: dict[tuple[str, ...], tuple[frozenset[str], dict[str, frozenset[Key]]]] = (
        cached if isinstance(cached, dict) else {}
    )
    tips = _tips(repo)
    known, found = cache.get(directories, (frozenset(), {}))
    if tips - known:
        found = _merged(found, _read(repo, directories, exclude=known & tips))
        cache[directories] = (tips, found)
        store_pickle(path, cache)
    return found


def _tips(repo: GitRepo) -> frozenset[str]:
    """Every commit `git log --all --reflog` starts from."""
    refs = repo.run("for-each-ref", "--format=%(objectname)", check=False).split()
    logged = repo.run("log", "--walk-reflogs", "--all", "--format=%H", check=False).split()
    return frozenset(sha.decode() for sha in (*refs, *logged))


def _merged(
    old: dict[str, frozenset[Key]], new: dict[str, frozenset[Key]]
) -> dict[str, frozenset[Key]]:
    return {path: old.get(path, frozenset()) | new.get(path, frozenset()) for path in {*old, *new}}


def _read(
    repo: GitRepo, directories: Sequence[str], exclude: frozenset[str] = frozenset()
) -> dict[str, frozenset[Key]]:
    out = repo.run(
        "-c",
        "core.quotePath=false",
        "log",
        "--all",
        "--reflog",
        "-m",
        "--format=%x00%H %P",
        "--name-only",
        "-G",
        r"replaces\s*=",
        "--stdin",  # the commits read before, excluded: as many as there are, past ARG_MAX
        "--",
        *(f":(literal){directory}" for directory in directories),
        stdin="".join(f"^{sha}\n" for sha in sorted(exclude)).encode(),
        check=False,
    )
    wanted: list[tuple[str, str]] = []  # (revision:path, path)
    for record in out.split(b"\0")[1:]:
        header, _, names = record.partition(b"\n")
        commits = header.decode().split()
        for raw in names.split(b"\n"):
            path = raw.decode(errors="replace").strip()
            if path.endswith(".py"):
                wanted += [(f"{commit}:{path}", path) for commit in commits]
    if not wanted:
        return {}
    unique = list(dict.fromkeys(wanted))
    objects = repo.run(
        "cat-file",
        "--batch-check=%(objectname) %(objecttype)",
        stdin="".join(f"{spec}\n" for spec, _ in unique).encode(),
        check=False,
    )
    found: dict[str, set[Key]] = {}
    for (_, path), line in zip(unique, objects.decode().splitlines(), strict=False):
        blob, _, kind = line.partition(" ")
        if kind != "blob":
            continue  # "missing": the file is not in that commit
        parsed = parse_migration(repo.read_blob(blob))
        if isinstance(parsed, ParsedMigration) and parsed.replaces:
            found.setdefault(path, set()).update((r.app, r.name) for r in parsed.replaces)
    return {path: frozenset(keys) for path, keys in found.items()}
