"""Time a branch switch with migrail's hooks, with django-migrant's hook, and by hand.

The repository is bench/hook.py's: app000 with 0001_initial, and two branches that each add 20
migrations of their own, so a switch unapplies 20 and applies 20 (SQLite). Each way:

- migrail: the hooks `migrail install` writes; `git checkout` runs them.
- django-migrant 0.0.9: its post-checkout hook, installed by its own `install` command and pointed
  at a throwaway venv's interpreter as its README suggests. Stage one (new branch) lists the
  applied migrations missing from disk and checks the previous branch out again; stage two (old
  branch) unapplies them and checks the new branch out; stage three migrates. Two extra checkouts
  and three Django starts per switch.
- by hand: `migrate app000 0001_initial`, checkout with hooks off, `migrate`.

django-migrant is not a dependency of migrail: it goes into a venv under a temp dir (installed
with --no-deps, and a .pth file lends it this interpreter's packages, so all three ways run the
same Django). If it cannot be installed, its column says so and the rest still runs.

Runs are interleaved (one of each way per round, each switching to the other branch). After each
switch the database is checked against the branch: the applied migrations of app000 and the
columns of its table. A way that leaves it wrong is reported, and the database is rebuilt.

Run: python bench/migrant.py [--runs 5]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from hook import ENV, PYTHON, precompile_migrail, run, set_hook, twenty_each_way_repo

MIGRANT = "django-migrant==0.0.9"
SETTINGS = "DJANGO_SETTINGS_MODULE=project.settings"
PREFIX = {"main": "a", "other": "b"}


def install_migrant(venv: Path) -> Path | str:
    """The throwaway venv's python with django-migrant importable, or why it could not be had."""
    steps = [
        [PYTHON, "-m", "venv", "--system-site-packages", str(venv)],
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", MIGRANT],
    ]
    for command in steps:
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            return f"`{' '.join(command[-3:])}` failed: {proc.stderr.strip()[-500:]}"
    python = venv / "bin/python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    # This interpreter's Django and django-linear-migrations (the settings list it), after
    # django-migrant's own site-packages.
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib) / "bench-host.pth").write_text("".join(f"{path}\n" for path in sorted(ours)))
    check = subprocess.run(
        [str(python), "-c", "import django, django_migrant; print(django.__version__)"],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        return f"django_migrant does not import in the venv: {check.stderr.strip()[-500:]}"
    return python


def snapshot_hooks(root: Path) -> dict[str, str]:
    hooks = root / ".git/hooks"
    return {p.name: p.read_text() for p in hooks.iterdir() if not p.name.endswith(".sample")}


def restore_hooks(root: Path, saved: dict[str, str]) -> None:
    hooks = root / ".git/hooks"
    for path in hooks.iterdir():
        if not path.name.endswith(".sample"):
            path.unlink()
    for name, text in saved.items():
        (hooks / name).write_text(text)
        (hooks / name).chmod(0o755)


def migrant_hooks(root: Path, python: Path) -> dict[str, str]:
    """django-migrant's hooks, written by its `install` command, then adapted as its README
    says: `python -m django_migrant migrate` with the settings module, from the venv's python
    (the generated manage.py has no shebang and the settings do not list django_migrant)."""
    restore_hooks(root, {})
    run(root, "env", SETTINGS, str(python), "-m", "django_migrant", "install", ".")
    saved = snapshot_hooks(root)
    hook = saved["post-checkout"]
    line = "    ./manage.py migrant migrate\n"
    if line not in hook:
        sys.exit(f"django-migrant's post-checkout hook changed; adapt bench/migrant.py:\n{hook}")
    saved["post-checkout"] = hook.replace(
        line, f"    {SETTINGS} {python} -m django_migrant migrate\n"
    )
    return saved


def database_state(root: Path) -> tuple[set[str], set[str]]:
    with sqlite3.connect(root / "db.sqlite3") as db:
        applied = {
            row[0]
            for row in db.execute("SELECT name FROM django_migrations WHERE app = ?", ("app000",))
        }
        columns = {row[1] for row in db.execute("PRAGMA table_info(app000_item)")}
    db.close()
    return applied, columns


def expected_state(branch: str) -> tuple[set[str], set[str]]:
    prefix = PREFIX[branch]
    applied = {"0001_initial"} | {f"{n:04d}_{prefix}{n}" for n in range(2, 22)}
    return applied, {"id"} | {f"{prefix}{n}" for n in range(2, 22)}


def current_branch(root: Path) -> str:
    return subprocess.run(
        ["git", "symbolic-ref", "--short", "-q", "HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
    ).stdout.strip()


def verify(root: Path, branch: str) -> str | None:
    """None if the work tree is on `branch` and the database matches it, else what is wrong."""
    on = current_branch(root)
    if on != branch:
        return f"HEAD is on {on or 'a detached commit'}, not {branch}"
    applied, columns = database_state(root)
    want_applied, want_columns = expected_state(branch)
    if applied != want_applied:
        extra = sorted(applied - want_applied)
        missing = sorted(want_applied - applied)
        return f"applied migrations differ: extra {extra}, missing {missing}"
    if columns != want_columns:
        return f"table columns differ: extra {sorted(columns - want_columns)}, missing " + str(
            sorted(want_columns - columns)
        )
    return None


def rebuild(root: Path, branch: str) -> None:
    """Put the work tree on `branch` and the database in step with it, from scratch."""
    run(root, "git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", "-f", branch)
    (root / "db.sqlite3").unlink(missing_ok=True)
    run(root, PYTHON, "manage.py", "migrate", "-v", "0")


@dataclass
class Way:
    name: str
    samples: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    checkouts: list[int] = field(default_factory=list)


def reflog_length(root: Path) -> int:
    out = subprocess.run(
        ["git", "reflog", "show", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout
    return len(out.splitlines())


def switch(root: Path, way: Way, hooks: dict[str, str] | None, target: str) -> None:
    if hooks is not None:
        restore_hooks(root, hooks)
    before = reflog_length(root)
    start = time.perf_counter()
    if hooks is None:  # by hand
        run(root, PYTHON, "manage.py", "migrate", "-v", "0", "app000", "0001_initial")
        run(root, "git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", target)
        run(root, PYTHON, "manage.py", "migrate", "-v", "0")
        failed = None
    else:
        proc = subprocess.run(
            ["git", "checkout", "-q", target], cwd=root, env=ENV, capture_output=True, text=True
        )
        failed = (
            f"git checkout exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
            if proc.returncode
            else None
        )
    way.samples.append(time.perf_counter() - start)
    way.checkouts.append(reflog_length(root) - before)
    wrong = failed or verify(root, target)
    if wrong:
        way.wrong.append(wrong)
        rebuild(root, target)


def compare(
    runs: int, migrant: Path | None, *, branch_only_helpers: bool
) -> tuple[Way, Way | None, Way]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        twenty_each_way_repo(root, branch_only_helpers=branch_only_helpers)
        (root / ".git/info/exclude").write_text("db.sqlite3\n.migrant\n")
        if (wrong := verify(root, "main")) is not None:
            sys.exit(f"the generated repository is not as expected: {wrong}")
        set_hook(root, "migrail")
        ways: list[tuple[Way, dict[str, str] | None]] = [(Way("migrail"), snapshot_hooks(root))]
        if migrant is not None:
            ways.append((Way("django-migrant"), migrant_hooks(root, migrant)))
        ways.append((Way("by hand"), None))
        for _ in range(runs):
            for way, hooks in ways:
                target = "other" if current_branch(root) == "main" else "main"
                switch(root, way, hooks, target)
        found = [way for way, _ in ways]
        return found[0], (found[1] if migrant is not None else None), found[-1]


def return_trips(runs: int) -> Way:
    """The same switch with snapshots on, once both branches have a current snapshot: the
    hook saves one and restores the other, starting no Django (four switches warm it up)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        twenty_each_way_repo(root)
        (root / ".git/info/exclude").write_text("db.sqlite3\n.migrant\n")
        run(root, "git", "config", "migrail.snapshots", "true")
        set_hook(root, "migrail")
        hooks = snapshot_hooks(root)
        warm_up, way = Way("warm-up"), Way("migrail's hooks, snapshots on")
        for target in ("other", "main", "other", "main"):
            switch(root, warm_up, hooks, target)
        for _ in range(runs):
            for target in ("other", "main"):
                switch(root, way, hooks, target)
        way.wrong += warm_up.wrong
        return way


def cell(way: Way | None) -> str:
    if way is None:
        return "not installed"
    seconds = f"{statistics.median(way.samples):.2f} s"
    if way.wrong:
        seconds += f" (wrong state in {len(way.wrong)} of {len(way.samples)})"
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="switches per way and repository")
    args = parser.parse_args()
    precompile_migrail()  # as bench/hook.py: migrail's modules as an installed wheel has them
    with tempfile.TemporaryDirectory() as tmp:
        installed = install_migrant(Path(tmp) / "venv")
        migrant = installed if isinstance(installed, Path) else None
        if migrant is None:
            print(f"django-migrant skipped, it could not be installed: {installed}\n")
        variants = [
            ("plain migrations", False),
            ("every migration imports a helper only its branch has", True),
        ]
        results = [
            (name, *compare(args.runs, migrant, branch_only_helpers=helpers))
            for name, helpers in variants
        ]
        trips = return_trips(args.runs)
    print(
        "A switch that unapplies 20 migrations and applies 20 (SQLite; median of "
        f"{args.runs} per way, interleaved)\n"
    )
    print(
        "| switch | migrail's hooks | django-migrant's hook | by hand "
        "| django-migrant / migrail |\n|---|---:|---:|---:|---:|"
    )
    for name, ours, theirs, by_hand in results:
        ratio = (
            f"{statistics.median(theirs.samples) / statistics.median(ours.samples):.2f}"
            if theirs is not None
            else "-"
        )
        print(f"| {name} | {cell(ours)} | {cell(theirs)} | {cell(by_hand)} | {ratio} |")
    _, _, theirs, by_hand = results[0]
    ratio = (
        f"{statistics.median(theirs.samples) / statistics.median(trips.samples):.1f}"
        if theirs is not None
        else "-"
    )
    print(
        f"| plain migrations, snapshots on (a return trip, both snapshots current) "
        f"| {cell(trips)} | {cell(theirs)} | {cell(by_hand)} | {ratio} |"
    )
    print()
    listed: list[tuple[str, list[Way | None]]] = [
        (name, [ours, theirs, by_hand]) for name, ours, theirs, by_hand in results
    ]
    listed.append(("plain migrations, snapshots on", [trips]))
    for name, ways in listed:
        for way in ways:
            if way is None:
                continue
            checkouts = statistics.median(way.checkouts)
            state = (
                "database right after every switch"
                if not way.wrong
                else "WRONG after " + f"{len(way.wrong)} switches, e.g. {way.wrong[0]}"
            )
            print(f"- {name}, {way.name}: {state}; HEAD moves per switch: {checkouts:g}")


if __name__ == "__main__":
    main()
