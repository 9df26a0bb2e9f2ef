"""Time migrail's post-checkout hook.

1. A switch between two commits that differ outside migrations, on a
   200-app x 50-migration repository: git alone, with migrail's hooks, and with
   a naive hook that runs `manage.py migrate`.
2. A switch that rolls back 20 migrations and applies 20: migrail's hook
   against the same by hand (`migrate app000 0001_initial`, checkout, `migrate`).
3. The same where every migration imports a helper module only its branch has,
   so only the old commit's code can unapply it (migrail's old-code path).
4. What writing a commit's files outside the work tree costs (3,000 files).

migrail's modules are compiled first (`compileall`, as pip does when it installs a wheel):
with an editable install and PYTHONDONTWRITEBYTECODE=1 in the environment, every hook
would otherwise compile them again, in the hook's process and in the old code's child.

Run: python bench/hook.py [--runs 7] [--switch-runs 5] [--only 2,3]
[--before OLD_VENV/bin/python]: parts 2 and 3 as hook before against hook after, interleaved.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from check import GIT_ENV, generate

PYTHON = sys.executable
ENV = {**GIT_ENV, "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}"}
PRE_COMMIT_CONFIG = """\
repos:
  - repo: local
    hooks:
      - id: sync
        name: sync
        entry: "{entry}"
        language: system
        pass_filenames: false
        always_run: true
        stages: [post-checkout]
"""
NAIVE_HOOK = f'#!/bin/sh\n[ "$3" = 1 ] || exit 0\nexec "{PYTHON}" manage.py migrate -v 0\n'


def run(root: Path, *command: str, env: dict[str, str] | None = None) -> None:
    proc = subprocess.run(command, cwd=root, env=env or ENV, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{proc.stdout}{proc.stderr}")


def switch_time(root: Path, runs: int) -> float:
    samples = []
    for n in range(runs * 2):
        start = time.perf_counter()
        run(root, "git", "checkout", "-q", "other" if n % 2 == 0 else "main")
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def set_hook(root: Path, script: str | None) -> None:
    from migrail.commands.install import HOOKS

    hooks = root / ".git/hooks"
    for name in HOOKS:
        (hooks / name).unlink(missing_ok=True)
    if script == "migrail":
        run(root, PYTHON, "-m", "migrail", "install")
    elif script is not None:
        (hooks / "post-checkout").write_text(script)
        (hooks / "post-checkout").chmod(0o755)


def commit_time(root: Path, runs: int) -> float:
    """A commit that moves no work tree (post-commit and reference-transaction decide in the
    shell; `--no-verify` leaves out the pre-commit guard, which checks what is committed)."""
    samples = []
    for _ in range(runs * 2):
        start = time.perf_counter()
        run(root, "git", "commit", "-q", "--no-verify", "--allow-empty", "-m", "empty")
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def no_op_commit(runs: int) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, 20, 10)
        set_hook(root, None)
        bare = commit_time(root, runs)
        set_hook(root, "migrail")
        return [("git commit, migrail hooks", commit_time(root, runs) - bare)]


def no_change_switch(runs: int) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, 200, 50)
        run(root, "git", "switch", "-q", "-c", "other")
        (root / "README").write_text("not a migration\n")
        run(root, "git", "add", "README")
        run(root, "git", "commit", "-qm", "docs")
        run(root, "git", "switch", "-q", "main")
        run(root, PYTHON, "manage.py", "migrate", "--fake", "-v", "0")
        rows = []
        set_hook(root, None)
        bare = switch_time(root, runs)
        rows.append(("git checkout, no hook", bare))
        set_hook(root, "migrail")
        rows.append(("git checkout, migrail hooks", switch_time(root, runs)))
        set_hook(root, NAIVE_HOOK)
        rows.append(
            ("git checkout, hook running manage.py migrate", switch_time(root, max(1, runs // 3)))
        )
        for name, entry in (
            ("pre-commit, a no-op hook", "true"),
            ("pre-commit, migrail-sync", "migrail hook pre-commit-sync"),
        ):
            set_hook(root, None)
            (root / ".pre-commit-config.yaml").write_text(PRE_COMMIT_CONFIG.format(entry=entry))
            run(root, PYTHON, "-m", "pre_commit", "install", "-t", "post-checkout")
            rows.append((name, switch_time(root, runs)))
        return [(name, seconds - bare) for name, seconds in rows]


def migration(name: str, parent: str, operation: str, header: str = "") -> str:
    return (
        f"from django.db import migrations, models\n{header}\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = [('app000', {parent!r})]\n    operations = [{operation}]\n"
    )


HELPER = "def noop(apps, schema_editor):\n    pass\n"


def twenty_each_way_repo(root: Path, *, branch_only_helpers: bool = False) -> None:
    """Generate in `root` app000 with 0001_initial and two branches, `main` and `other`, that
    each add 20 migrations of their own on top; leave `main` checked out and migrated."""
    generate(root, 1, 1)  # app000 with 0001_initial, committed on main
    app = root / "app000/migrations"
    run(root, "git", "branch", "other")
    for branch, prefix in (("main", "a"), ("other", "b")):
        run(root, "git", "switch", "-q", branch)
        previous = "0001_initial"
        header = ""
        if branch_only_helpers:
            (app.parent / f"helpers_{prefix}.py").write_text(HELPER)
            header = f"from app000.helpers_{prefix} import noop\n"
        for n in range(2, 22):
            name = f"{n:04d}_{prefix}{n}"
            field = (
                f"migrations.AddField(model_name='item', name='{prefix}{n}', "
                "field=models.IntegerField(default=0))"
            )
            if branch_only_helpers:
                field += ", migrations.RunPython(noop, noop)"
            (app / f"{name}.py").write_text(migration(name, previous, field, header))
            previous = name
        (app / "max_migration.txt").write_text(f"{previous}\n")
        run(root, "git", "add", "-A")
        run(root, "git", "commit", "-qm", branch)
    run(root, "git", "switch", "-q", "main")
    run(root, PYTHON, "manage.py", "migrate", "-v", "0")


def twenty_each_way(runs: int, *, branch_only_helpers: bool = False) -> list[tuple[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        twenty_each_way_repo(root, branch_only_helpers=branch_only_helpers)
        set_hook(root, "migrail")
        # Interleaved, so the machine's load weighs on both alike: the hook takes
        # main -> other, by hand takes other -> main (hooks off), and so on.
        hooked, by_hand, switched = [], [], []

        def back_by_hand() -> None:
            start = time.perf_counter()
            run(root, PYTHON, "manage.py", "migrate", "-v", "0", "app000", "0001_initial")
            run(root, "git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", "main")
            run(root, PYTHON, "manage.py", "migrate", "-v", "0")
            by_hand.append(time.perf_counter() - start)

        for _ in range(runs):
            start = time.perf_counter()
            run(root, "git", "checkout", "-q", "other")
            hooked.append(time.perf_counter() - start)
            back_by_hand()
            start = time.perf_counter()
            run(root, PYTHON, "-m", "migrail", "switch", "other")
            switched.append(time.perf_counter() - start)
            back_by_hand()
        return [
            ("migrail post-checkout (backup included)", statistics.median(hooked)),
            ("`migrail switch` (backup included)", statistics.median(switched)),
            ("by hand: migrate back, checkout, migrate", statistics.median(by_hand)),
        ]


def against_before(runs: int, before: str, *, branch_only_helpers: bool = False) -> list[str]:
    """The hook of this installation and of another (`--before OLD_VENV/bin/python`), each on
    a repository of its own (hooks installed by its python), interleaved: per round, each
    one's `git checkout other` with the hooks, then by hand back to main. Table rows."""
    import resource

    global PYTHON, ENV
    ours = PYTHON
    pythons = {"before": before, "after": ours}
    rows: list[str] = []
    samples: dict[str, list[tuple[tuple[float, float], tuple[float, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        roots = {}
        for label, python in pythons.items():
            PYTHON, ENV = (
                python,
                {**ENV, "PATH": f"{Path(python).parent}{os.pathsep}{os.environ['PATH']}"},
            )
            roots[label] = Path(tmp) / label
            roots[label].mkdir()
            twenty_each_way_repo(roots[label], branch_only_helpers=branch_only_helpers)
            set_hook(roots[label], "migrail")
        PYTHON, ENV = (
            ours,
            {**GIT_ENV, "PATH": f"{Path(ours).parent}{os.pathsep}{os.environ['PATH']}"},
        )

        def timed(root: Path, *command: str) -> tuple[float, float]:
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            run(root, *command)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime
            return time.perf_counter() - start, cpu

        for _ in range(runs):
            for label, root in roots.items():
                hooked = timed(root, "git", "checkout", "-q", "other")
                back = [
                    timed(root, ours, "manage.py", "migrate", "-v", "0", "app000", "0001_initial"),
                    timed(root, "git", "-c", "core.hooksPath=/dev/null", "checkout", "-q", "main"),
                    timed(root, ours, "manage.py", "migrate", "-v", "0"),
                ]
                hand = (sum(w for w, _ in back), sum(c for _, c in back))
                samples.setdefault(label, []).append((hooked, hand))
    for label, pairs in samples.items():
        walls = [h[0] for h, _ in pairs]
        hands = [b[0] for _, b in pairs]
        ratio = statistics.median(h[0] / b[0] for h, b in pairs)
        rows.append(
            f"| {label} | {statistics.median(walls):.2f} (min {min(walls):.2f}) "
            f"| {statistics.median(hands):.2f} (min {min(hands):.2f}) | {ratio:.2f} "
            f"| {statistics.median(h[1] for h, _ in pairs):.2f} "
            f"| {statistics.median(b[1] for _, b in pairs):.2f} |"
        )
    return rows


def materialise_cost(runs: int) -> float:
    """Median seconds to write a commit's files under .git/migrail/trees (removal runs while
    migrate does, so it is not on the path)."""
    from migrail.sources.gitrepo import GitRepo
    from migrail.sources.old_tree import commit_tree

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, 60, 48)  # 2,880 migrations plus the apps' and project's files
        files = len(
            subprocess.run(["git", "ls-files"], cwd=root, capture_output=True).stdout.split()
        )
        repo = GitRepo.discover(root)
        head = repo.resolve("HEAD")
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            with commit_tree(repo, head):
                samples.append(time.perf_counter() - start)
            for thread in threading.enumerate():  # the removal, off the timed path
                if thread is not threading.current_thread():
                    thread.join()
        print(f"(a repository of {files} files)")
        return statistics.median(samples)


def precompile_migrail() -> None:
    """migrail's modules compiled once, as an installed wheel has them."""
    found = subprocess.run(
        [PYTHON, "-c", "import migrail, os; print(os.path.dirname(migrail.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    )
    subprocess.run([PYTHON, "-m", "compileall", "-q", found.stdout.strip()], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--switch-runs", type=int, help="hooked switches in 2 and 3 (default: runs // 2, >= 2)"
    )
    parser.add_argument("--only", default="1,2,3,4", help="the parts to run, e.g. 2,3")
    parser.add_argument(
        "--before", help="OLD_VENV/bin/python: parts 2 and 3 against that installation instead"
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    switches = args.switch_runs or max(2, args.runs // 2)
    precompile_migrail()
    if args.before:
        subprocess.run(
            [
                args.before,
                "-c",
                "import compileall, migrail, os; "
                "compileall.compile_dir(os.path.dirname(migrail.__file__), quiet=1)",
            ],
            check=True,
        )
    if "1" in parts:
        print(
            "1. switch between commits that differ outside migrations, 10,000 migrations "
            f"(median of {args.runs * 2} checkouts; time added to git's own)\n"
        )
        print(f"| {'hook':<46} | {'added ms':>9} |\n|{'-' * 48}|{'-' * 11}|")
        for name, seconds in no_change_switch(args.runs) + no_op_commit(args.runs):
            print(f"| {name:<46} | {seconds * 1000:9.1f} |")
    for part, title, helpers in (
        ("2", "2. switch that unapplies 20 migrations and applies 20", False),
        ("3", "3. the same, every migration importing a helper only its branch has", True),
    ):
        if part not in parts:
            continue
        if args.before:
            print(
                f"\n{title}: hook before and after, each with by hand in the same round "
                f"(SQLite; median of {switches} rounds, interleaved; seconds, CPU seconds)\n"
            )
            print("| hook | wall | by hand | hook / by hand | CPU | CPU by hand |")
            print("|---|---:|---:|---:|---:|---:|")
            print("\n".join(against_before(switches, args.before, branch_only_helpers=helpers)))
            continue
        print(
            f"\n{title} (SQLite; median of {switches} hooked switches, of {switches} "
            f"`migrail switch`, of {switches * 2} by hand; interleaved)\n"
        )
        print(f"| {'way':<46} | {'seconds':>9} |\n|{'-' * 48}|{'-' * 11}|")
        for name, seconds in twenty_each_way(switches, branch_only_helpers=helpers):
            print(f"| {name:<46} | {seconds:9.2f} |")
    if "4" in parts:
        print("\n4. writing a commit's files outside the work tree, and removing them")
        print(f"median of {args.runs}: {materialise_cost(args.runs) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
