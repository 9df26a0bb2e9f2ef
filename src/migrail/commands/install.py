"""`migrail install` and `migrail uninstall`: write and remove migrail's git hook scripts.

The scripts go where git really looks (`git rev-parse --git-path hooks`, which
honours `core.hooksPath` and linked worktrees). A hook already there is kept
as `NAME.pre-migrail` and run first, with the same arguments and input.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

from migrail.errors import EXIT_CLEAN, MigrailError
from migrail.sources.checkout_decision import (
    CHECKOUT_PATHSPECS,
    COMMITS_THAT_MOVE_THE_TREE,
    ZERO_SHA,
)
from migrail.sources.gitrepo import GitRepo

HOOKS = (
    "pre-commit",
    "pre-merge-commit",
    "pre-push",
    "post-checkout",
    "post-merge",
    "post-rewrite",
    "post-commit",
    "reference-transaction",
)
GUARDS = ("pre-commit", "pre-merge-commit", "pre-push")  # the others follow git's work
MARKER = "# migrail hook script"
CHAINED_SUFFIX = ".pre-migrail"
READS_STDIN = ("pre-push", "post-rewrite", "reference-transaction")
MISSING_ADVICE = "reinstall it, or skip with MIGRAIL_SKIP=1"
CHECKOUT_PATHS = " ".join(f"'{pathspec}'" for pathspec in CHECKOUT_PATHSPECS)
MOVING_COMMITS = "|".join(f"'{subject}'*" for subject in COMMITS_THAT_MOVE_THE_TREE)

# post-checkout decides in the shell whether anything can have changed, so the
# common branch switch never starts Python, let alone Django. With the same migrations
# on both sides only branch snapshots have work: `git config migrail.snapshots` decides
# when set, else a line scan of pyproject.toml (`checkout_decision.snapshots_may_be_on`
# reads it the same way; a wrong yes costs a Python start that then reads it for real).
FAST_PATH = {
    "post-checkout": f"""\
[ "$3" = 1 ] || exit $status  # a file checkout, not a branch switch
case "$1" in {ZERO_SHA}) [ -f .git ] || exit $status ;; esac  # a clone (not a new worktree)
seen=''  # "on": snapshots are, so every switch of branch has work (no diff to ask)
if snapshots=$(git config --get migrail.snapshots); then
    case $snapshots in [Ff][Aa][Ll][Ss][Ee]|[Nn][Oo]|[Oo][Ff][Ff]|0|'') ;; *) seen=on ;; esac
elif [ -f pyproject.toml ]; then
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in *migrail*) seen=1 ;; esac
        case $seen$line in 1*snapshots*true*) seen=on; break ;; esac
    done <pyproject.toml
fi
[ "$1" = {ZERO_SHA} ] || [ "$seen" = on ] ||  # a new worktree: migrail decides
    ! git diff --quiet "$1" "$2" -- {CHECKOUT_PATHS} || exit $status  # same migrations, settings
if [ -z "${{GIT_DIR:-}}" ] && [ -d .git ]; then  # git's own directory: no git to ask
    [ -d .git/rebase-merge ] || [ -d .git/rebase-apply ] && exit $status  # mid-rebase
else
    while IFS= read -r d; do
        [ -d "$d" ] && exit $status  # mid-rebase: post-rewrite syncs
    done <<EOF
$(git rev-parse --git-path rebase-merge --git-path rebase-apply)
EOF
fi
""",
    # revert, cherry-pick and the commit that concludes a merge move the work tree; a plain
    # commit or an amend (post-rewrite's) does not. Their reflog entry tells them apart.
    "post-commit": f"""\
case $(git reflog -1 --format=%gs HEAD 2>/dev/null) in
    {MOVING_COMMITS}) ;;
    *) exit $status ;;
esac
git diff --quiet HEAD@{{1}} HEAD -- {CHECKOUT_PATHS} && exit $status  # same migrations
""",
    # reset moves HEAD with no hook of its own: the transaction that moved HEAD, committed,
    # by a reset that left the work tree at the new commit (--hard, --merge, --keep).
    "reference-transaction": f"""\
[ "$1" = committed ] || exit $status
moved=$(feed | while read -r old new ref; do [ "$ref" = HEAD ] && echo "$old $new"; done)
[ -n "$moved" ] || exit $status
if [ -f .git/ORIG_HEAD ]; then  # a reset first records where HEAD was; a commit does not
    read -r orig <.git/ORIG_HEAD
    [ "$orig" = "${{moved% *}}" ] || exit $status
fi
case $(git reflog -1 --format=%gs HEAD 2>/dev/null) in  # HEAD mid-rename: no reflog, no reset
    'reset: moving to '*) ;;
    *) exit $status ;;
esac
git diff --quiet ${{moved% *}} ${{moved#* }} -- {CHECKOUT_PATHS} && exit $status
git diff --quiet ${{moved#* }} -- {CHECKOUT_PATHS} || exit $status  # --soft, --mixed
""",
}
# Before git's input is read: reference-transaction runs for every ref update, twice
# (prepared, then committed); only a committed one can be a reset, and with no hook of
# the project's chained, nothing else needs the input (git ignores a hook that reads none).
EARLY_EXIT = {
    "reference-transaction": f"""\
[ "$1" = committed ] || [ -x "$0{CHAINED_SUFFIX}" ] || exit 0
""",
}
# Runs migrail in the environment that installed the hooks, or exits 127 when that
# environment no longer has it (as a shell does for a missing command), in one process.
LAUNCH = """\
import sys
try:
    from migrail.cli.entry import main
except ModuleNotFoundError:
    sys.exit(127)
sys.argv[0] = "migrail"
sys.exit(main())"""


def run(command: str) -> int:
    """`migrail install` or `migrail uninstall`: print what was done, one line each."""
    repo = GitRepo.discover()
    for line in install(repo) if command == "install" else uninstall(repo):
        print(line)
    return EXIT_CLEAN


def render_script(name: str, python: str = "") -> str:
    """A POSIX sh script that never falls through: each path ends in an explicit exit.

    No `exec`: in a pipeline it replaces only the pipeline's subshell. git's input
    (pre-push's refs, post-rewrite's commits) is read once, exactly, and given to
    the chained hook and to migrail in turn.
    """
    guard = name in GUARDS
    if name in READS_STDIN:
        stdin_setup = 'input=$(cat; echo .)\ninput=${input%.}\nfeed() { printf "%s" "$input"; }\n'
        feed = "feed | "
    else:
        stdin_setup = feed = ""
    chained = f'{feed}"$0{CHAINED_SUFFIX}" "$@"'
    if guard:
        chained += " || exit $?  # its refusal stands"
    else:
        chained += " || status=$?  # kept; git's work is done, so migrail syncs anyway"
    # A guard without migrail blocks (and says so); a sync hook must not fail git's own work.
    missing_status = 1 if guard else 0
    return f"""#!/bin/sh
{MARKER} ({name}); `migrail uninstall` removes it.
{EARLY_EXIT.get(name, "")}{stdin_setup}status=0
if [ -x "$0{CHAINED_SUFFIX}" ]; then  # the hook that was here before migrail runs first
    {chained}
fi
[ "${{MIGRAIL_SKIP:-0}}" = 1 ] && exit $status
{FAST_PATH.get(name, "")}python={shlex.quote(python)}
launch='{LAUNCH}'
ran=127
if [ -x "$python" ]; then
    {feed}"$python" -c "$launch" hook {name} "$@"
    ran=$?
fi
if [ $ran -eq 127 ] && command -v migrail >/dev/null 2>&1; then
    {feed}migrail hook {name} "$@"
    ran=$?
fi
if [ $ran -eq 127 ]; then
    echo "migrail: not found (installed from ${{python:-PATH}}); {MISSING_ADVICE}" >&2
    ran={missing_status}
fi
[ $status -ne 0 ] || status=$ran
exit $status
"""


def hooks_dir(repo: GitRepo) -> Path:
    path = Path(repo.run("rev-parse", "--git-path", "hooks").decode().strip())
    return path if path.is_absolute() else repo.root / path


def install(repo: GitRepo, python: str = sys.executable) -> list[str]:
    directory = hooks_dir(repo)
    directory.mkdir(parents=True, exist_ok=True)
    done = []
    for name in HOOKS:
        path = directory / name
        if path.exists() and not _is_ours(path):
            chained = path.with_name(name + CHAINED_SUFFIX)
            if chained.exists():
                raise MigrailError(f"{path} exists and so does {chained}; move one of them away")
            path.rename(chained)
            done.append(f"kept the existing {name} hook as {chained.name}; it runs first")
        path.write_text(render_script(name, python))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        done.append(f"installed {path}")
    return done


def uninstall(repo: GitRepo) -> list[str]:
    directory = hooks_dir(repo)
    done = []
    for name in HOOKS:
        path = directory / name
        if path.exists() and _is_ours(path):
            path.unlink()
            done.append(f"removed {path}")
            chained = path.with_name(name + CHAINED_SUFFIX)
            if chained.exists():
                os.replace(chained, path)
                done.append(f"restored the earlier {name} hook")
    return done or ["no migrail hooks were installed"]


def _is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(errors="replace")
    except OSError:
        return False
