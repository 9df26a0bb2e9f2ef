"""Time a new worktree's database: migrail's copy against a dump and restore by hand.

A project whose `main` holds a bulk table of SIZE MB, worktree databases on, the hooks
installed. Per engine and size:

- `git worktree add`: the whole command, its post-checkout hook included (the copy, then a
  sync with nothing to do), and in brackets the copy alone as the hook prints it;
- by hand: `pg_dump -Fc | pg_restore` into a new database (`mysqldump | mysql` into a new
  schema), what giving a worktree a copy of the data costs without migrail.

Run: python bench/worktree_copy.py [--sizes 100] [--engines sqlite,postgresql,mariadb] [--runs 2]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.databases import MARIADB, PG_DSN, database_settings  # noqa: E402
from tests.djangoproject import DjangoProject, run_env  # noqa: E402
from tests.scenarios import main_branch  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from snapshots import BULK, FILL  # noqa: E402  (bench/snapshots.py: the same 100 MB table)

COPY = re.compile(r"is a copy of the main worktree's .* \(([0-9.]+)s\)$", re.M)
PER_WORKTREE = """
import migrail
from pathlib import Path
if 'sqlite' in DATABASES['default']['ENGINE']:
    DATABASES['default']['NAME'] = str(Path(__file__).resolve().parent.parent / 'db.sqlite3')
DATABASES = migrail.per_worktree(DATABASES)
"""


def build(project: DjangoProject, engine: str, size_mb: int) -> None:
    project.settings_extra = PER_WORKTREE
    project.add_app("bulk")
    project.migration("bulk", "0001_initial", BULK)
    project.write("bulk/migrations/max_migration.txt", "0001_initial\n")
    main_branch(project)
    project.git("config", "migrail.worktreeDatabases", "true")
    assert project.migrail("install").returncode == 0
    assert project.migrail("sync").returncode == 0
    project.query(FILL[engine].format(rows=size_mb * 1000))


def worktree_add(project: DjangoProject, name: str) -> tuple[float, float]:
    """(the whole `git worktree add` with its hook, the copy alone) in seconds."""
    started = time.perf_counter()
    proc = subprocess.run(
        ["git", "worktree", "add", "-q", "-b", name, f"../{name}"],
        cwd=project.root,
        env=run_env(),
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    copy = COPY.search(proc.stdout + proc.stderr)
    if proc.returncode != 0 or copy is None:
        sys.exit(f"git worktree add failed:\n{proc.stdout}{proc.stderr}")
    return elapsed, float(copy.group(1))


def by_hand(engine: str, name: str, target: str) -> float | None:
    """A dump piped into a restore into a new database `target`."""
    if engine == "postgresql":
        base = "-h 127.0.0.1 -U postgres"
        script = (
            f"createdb {base} {target} && "
            f"pg_dump -Fc {base} {name} | pg_restore --no-owner {base} -d {target}"
        )
    elif engine == "mariadb":
        base = f"--host={MARIADB['host']} --user={MARIADB['user']}"
        script = (
            f"mysql {base} -e 'CREATE DATABASE `{target}`' && "
            f"mysqldump --single-transaction {base} {name} | mysql {base} {target}"
        )
    else:
        return None
    started = time.perf_counter()
    subprocess.run(["sh", "-c", script], check=True, capture_output=True)
    return time.perf_counter() - started


def drop(engine: str, names: list[str]) -> None:
    for name in names:
        if engine == "postgresql":
            import psycopg

            with psycopg.connect(PG_DSN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif engine == "mariadb":
            import pymysql

            admin = pymysql.connect(autocommit=True, **MARIADB)
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            admin.close()


def measure(engine: str, size_mb: int, runs: int) -> dict[str, float | None]:
    with tempfile.TemporaryDirectory() as tmp, database_settings(engine, Path(tmp)) as (db, _):
        project = DjangoProject(Path(tmp) / "repo", database=db)
        build(project, engine, size_mb)
        made, hand = [], []
        names = [f"wt{run}" for run in range(runs)]
        try:
            for name in names:
                made.append(worktree_add(project, name))
                hand.append(by_hand(engine, db["NAME"], f"{db['NAME']}_hand_{name}"))
        finally:
            drop(engine, [f"{db['NAME']}_{n}" for n in names])
            drop(engine, [f"{db['NAME']}_hand_{n}" for n in names])
    timed = [h for h in hand if h is not None]
    return {
        "add": statistics.median(t for t, _ in made),
        "copy": statistics.median(c for _, c in made),
        "hand": statistics.median(timed) if timed else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100", help="MB, comma-separated")
    parser.add_argument("--engines", default="sqlite,postgresql,mariadb")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    print("seconds per new worktree database (median)")
    print(f"{'engine':<11} {'size':>7} {'git worktree add (copy)':>24} {'dump | restore':>15}")
    for engine in args.engines.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            r = measure(engine, size, args.runs)
            hand = f"{r['hand']:.2f}" if r["hand"] is not None else "-"
            add = f"{r['add']:.2f} ({r['copy']:.2f})"
            print(f"{engine:<11} {size:>4} MB {add:>24} {hand:>15}", flush=True)


if __name__ == "__main__":
    main()
