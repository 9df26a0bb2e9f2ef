"""Time branch switches with snapshots, with rollback only, and with a dump and restore by hand.

A project whose `main` holds a bulk table of SIZE MB and whose `feature` adds a
column; the hooks are installed. Per engine and size:

- snapshots, first visit: leaving a branch for one without a snapshot (a copy);
- snapshots, return trip: A -> B -> A where both have snapshots, time per switch;
- rollback only: the same switch without snapshots (cheap, but the column's data is lost);
- by hand: `pg_dump -Fc` + `pg_restore --clean` (or `mysqldump` + `mysql`) of the database,
  what a user does to keep each branch's data without migrail (the two commands alone).

Run: python bench/snapshots.py [--sizes 10,100] [--engines sqlite,postgresql,mariadb]
     [--runs 3] [--huge]  (--huge adds 1000 MB; it is skipped, saying so, without it)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.databases import database_settings  # noqa: E402
from tests.djangoproject import DjangoProject, run_env  # noqa: E402
from tests.scenarios import feature_branch, main_branch  # noqa: E402

BULK = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Blob",
            fields=[("id", models.AutoField(primary_key=True)), ("data", models.TextField())],
        ),
    ]
"""
FILL = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
    "INSERT INTO bulk_blob (data) SELECT hex(randomblob(500)) FROM n",
    "postgresql": "INSERT INTO bulk_blob (data) "
    "SELECT repeat(md5(i::text), 31) FROM generate_series(1, {rows}) i",
    "mariadb": "INSERT INTO bulk_blob (data) SELECT REPEAT(MD5(seq), 31) FROM seq_1_to_{rows}",
}


STEP = re.compile(r"migrail: saved database .* \((?:commit \w+, )?([0-9.]+)s\)$", re.M)


def switch(project: DjangoProject, branch: str, snapshots: bool = True) -> tuple[float, float]:
    """(the whole `git switch` with its hook, the snapshot step alone) in seconds."""
    started = time.perf_counter()
    proc = subprocess.run(
        ["git", "switch", branch], cwd=project.root, env=run_env(), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0 or (snapshots and "snapshot" not in proc.stdout + proc.stderr):
        sys.exit(f"git switch {branch} failed:\n{proc.stdout}{proc.stderr}")
    step = STEP.search(proc.stdout + proc.stderr)
    return elapsed, float(step.group(1)) if step else 0.0


def build(project: DjangoProject, engine: str, size_mb: int, snapshots: bool) -> None:
    if snapshots:
        project.write("pyproject.toml", "[tool.migrail]\nsnapshots = true\n")
    project.add_app("bulk")
    project.migration("bulk", "0001_initial", BULK)
    project.write("bulk/migrations/max_migration.txt", "0001_initial\n")
    main_branch(project)
    assert project.migrail("install").returncode == 0
    assert project.migrail("sync").returncode == 0
    project.query(FILL[engine].format(rows=size_mb * 1000))
    feature_branch(project)  # with snapshots, creating feature saved main's:
    assert project.migrail("sync").returncode == 0
    if snapshots:  # dropped, so the first switch back to main is a first visit (a copy)
        assert project.migrail("snapshot", "drop", "main").returncode == 0


def by_hand(engine: str, settings: dict[str, str], work: Path) -> float | None:
    name = settings["NAME"]
    if engine == "postgresql":
        base = ["-h", "127.0.0.1", "-U", "postgres"]
        dump = ["pg_dump", "-Fc", *base, "-f", str(work / "db.dump"), name]
        restore = ["pg_restore", "--clean", "--if-exists", *base, "-d", name, str(work / "db.dump")]
    elif engine == "mariadb":
        base = ["--host=127.0.0.1", "--user=root"]
        dump = [
            "sh",
            "-c",
            f"mysqldump --single-transaction {' '.join(base)} {name} > {work}/db.sql",
        ]
        restore = ["sh", "-c", f"mysql {' '.join(base)} {name} < {work}/db.sql"]
    else:
        return None
    if shutil.which(dump[0]) is None and dump[0] != "sh":
        return None
    started = time.perf_counter()
    for command in (dump, restore):
        subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(engine: str, size_mb: int, runs: int) -> dict[str, float | None]:
    with tempfile.TemporaryDirectory() as tmp, database_settings(engine, Path(tmp)) as (db, _):
        project = DjangoProject(Path(tmp) / "repo", database=db)
        build(project, engine, size_mb, snapshots=True)
        first, first_step = switch(project, "main")  # feature saved (a copy); main has none
        switch(project, "feature")  # main parked, feature un-parked and migrated
        trips = [switch(project, b) for _ in range(runs) for b in ("main", "feature")]
        hand = by_hand(engine, db, Path(tmp))
        for meta in (project.root / ".git/migrail/snapshots").glob("*.json"):
            if not meta.name.startswith("journal-"):  # server-side copies outlive the tmp dir
                project.migrail("snapshot", "drop", json.loads(meta.read_text())["branch"])
    with tempfile.TemporaryDirectory() as tmp, database_settings(engine, Path(tmp)) as (db, _):
        project = DjangoProject(Path(tmp) / "repo", database=db)
        build(project, engine, size_mb, snapshots=False)
        rollback = [
            switch(project, b, snapshots=False)[0] for _ in range(runs) for b in ("main", "feature")
        ]
    return {
        "first": first,
        "first_step": first_step,
        "trip": statistics.median(t for t, _ in trips),
        "trip_step": statistics.median(s for _, s in trips),
        "rollback": statistics.median(rollback),
        "hand": hand,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100", help="MB, comma-separated")
    parser.add_argument("--engines", default="sqlite,postgresql,mariadb")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--huge", action="store_true", help="add a 1000 MB database")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.huge:
        sizes.append(1000)
    elif 1000 not in sizes:
        print("(1000 MB skipped: pass --huge to run it; it needs ~3 GB of disk per engine)")
    print("seconds per switch (whole `git switch` with its hook; the snapshot step alone)")
    print(
        f"{'engine':<11} {'size':>7} {'first visit':>18} {'with snapshots':>18} "
        f"{'rollback only':>14} {'dump+restore':>13}"
    )
    for engine in args.engines.split(","):
        for size in sizes:
            r = measure(engine, size, args.runs)
            hand = f"{r['hand']:.2f}" if r["hand"] is not None else "-"
            first = f"{r['first']:.2f} ({r['first_step']:.2f})"
            trip = f"{r['trip']:.2f} ({r['trip_step']:.2f})"
            print(
                f"{engine:<11} {size:>4} MB {first:>18} {trip:>18} "
                f"{r['rollback']:>14.2f} {hand:>13}",
                flush=True,
            )


if __name__ == "__main__":
    main()
