"""Compare `migrail sync` of two installations on a large project (an A/B of two releases).

60 apps x 50 migrations, plus 20 migrations on each of two branches in app000;
each run switches branch with the hooks off and times `migrail sync --no-backup`
(20 to unapply, 20 to apply), alternating between the two Pythons so that the
machine's load weighs on both alike.

Run: python bench/sync_ab.py --before /path/to/old/venv/bin/python [--after PYTHON] [--runs 8]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from check import generate
from hook import migration, run


def branches(root: Path, python: str) -> None:
    generate(root, 60, 50)
    app = root / "app000/migrations"
    last = (app / "max_migration.txt").read_text().strip()
    run(root, "git", "branch", "other")
    for branch, prefix in (("main", "a"), ("other", "b")):
        run(root, "git", "switch", "-q", branch)
        previous = last
        for n in range(51, 71):
            name = f"{n:04d}_{prefix}{n}"
            field = (
                f"migrations.AddField(model_name='item', name='{prefix}{n}', "
                "field=models.IntegerField(default=0))"
            )
            (app / f"{name}.py").write_text(migration(name, previous, field))
            previous = name
        (app / "max_migration.txt").write_text(f"{previous}\n")
        run(root, "git", "add", "-A")
        run(root, "git", "commit", "-qm", branch)
    run(root, "git", "switch", "-q", "main")
    run(root, python, "manage.py", "migrate", "-v", "0")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="python of the installation to compare")
    parser.add_argument("--after", default=sys.executable)
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    pythons = {"before": args.before, "after": args.after}
    times: dict[str, list[float]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        branches(root, args.after)
        branch = "main"
        for _ in range(args.runs):
            for who, python in pythons.items():
                branch = "other" if branch == "main" else "main"
                run(root, "git", "-c", "core.hooksPath=/dev/null", "switch", "-q", branch)
                start = time.perf_counter()
                proc = subprocess.run(
                    [python, "-m", "migrail", "sync", "--no-backup"],
                    cwd=root,
                    capture_output=True,
                    text=True,
                )
                times[who].append(time.perf_counter() - start)
                if proc.returncode != 0 or "20 to unapply, 20 to apply" not in proc.stdout:
                    sys.exit(f"{who}: unexpected sync:\n{proc.stdout}{proc.stderr}")
    print("`migrail sync` unapplying 20 and applying 20 on 3,040 migrations")
    print(f"(median of {args.runs}, the two interleaved)\n")
    print("| installation | seconds |")
    print("|---|---:|")
    for who, values in times.items():
        print(f"| {who} ({pythons[who]}) | {statistics.median(values):.2f} |")
    ratio = statistics.median(times["before"]) / statistics.median(times["after"])
    print(f"\nbefore / after: {ratio:.2f}")


if __name__ == "__main__":
    main()
