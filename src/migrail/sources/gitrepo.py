"""The git repository: a thin adapter over the `git` command and GitPython.

Listing and diffing run `git` directly: they are on the hooks' fast path,
where importing GitPython (~70-100 ms) would cost more than the work itself.
Object reads go through GitPython's object database, imported on first use.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from migrail.errors import GitCommandError, NotAGitRepository
from migrail.sources.checkout_decision import MIGRATION_PATHSPECS, ZERO_SHA

__all__ = ["MIGRATION_PATHSPECS", "ZERO_SHA", "GitRepo", "TreeEntry"]

if TYPE_CHECKING:
    import git


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    blob: str

    @property
    def is_symlink(self) -> bool:
        return self.mode == "120000"

    @property
    def is_file(self) -> bool:
        """A plain file (executable or not): not a link, a submodule or a directory."""
        return self.mode in ("100644", "100755")


@dataclass
class GitRepo:
    root: Path
    git_dir: Path
    common_dir: Path
    _blob_cache: dict[str, bytes] = field(default_factory=dict, repr=False)
    _commits: set[str] = field(default_factory=set, repr=False, compare=False)  # commits' ids

    @classmethod
    def discover(cls, start: Path | None = None) -> GitRepo:
        cwd = start or Path.cwd()
        try:
            out = subprocess.run(
                ["git", "rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"],
                cwd=cwd,
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError as err:
            raise NotAGitRepository("git is not installed or not on PATH") from err
        if out.returncode != 0:
            raise NotAGitRepository(f"{cwd} is not inside a git work tree")
        top, git_dir, common = out.stdout.splitlines()
        common_path = Path(common)
        if not common_path.is_absolute():
            common_path = (cwd / common_path).resolve()
        return cls(Path(top), Path(git_dir), common_path)

    def run(self, *args: str, check: bool = True, stdin: bytes | None = None) -> bytes:
        proc = subprocess.run(
            ["git", *args], cwd=self.root, input=stdin, capture_output=True, check=False
        )
        if check and proc.returncode != 0:
            raise _failure(args, proc.stderr, proc.returncode)
        return proc.stdout

    @cached_property
    def migrail_dir(self) -> Path:
        """Where migrail keeps caches, backups and locks: shared by linked worktrees. 0700
        whatever the umask: it holds code a later rollback runs (`sources/`)."""
        path = self.common_dir / "migrail"
        path.mkdir(mode=0o700, exist_ok=True)
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            with contextlib.suppress(OSError):  # another user's, or a read-only disk
                os.chmod(path, 0o700)
        return path

    def resolve(self, rev: str) -> str:
        """The commit `rev` names; any string a user gives passes here before git sees it.
        A commit's full id, once resolved (or `known_commit`), is answered without git."""
        if rev in self._commits:
            return rev
        out = self.run(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False
        )
        sha = out.decode().strip()
        if not sha:
            raise GitCommandError(f"unknown revision {rev!r}")
        if sha == rev:
            self._commits.add(sha)
        return sha

    def known_commit(self, sha: str) -> None:
        """`sha` is a commit's full id, resolved by another process of the same sync."""
        self._commits.add(sha)

    def head(self) -> str | None:
        out = self.run("rev-parse", "--verify", "--quiet", "HEAD", check=False).decode().strip()
        return out or None

    def branch(self) -> str:
        """The branch checked out (its short name); "" on a detached HEAD. Read from the
        HEAD file when it is git's plain format (`ref: refs/heads/NAME`, or a commit's id),
        as a hook's every switch asks; git answers otherwise (a reftable repository)."""
        head = _first_line(self.git_dir / "HEAD")
        if head is not None:
            if head.startswith(HEADS) and head != f"{HEADS}.invalid":
                return head.removeprefix(HEADS)
            if len(head) in (40, 64) and all(c in HEX for c in head):
                return ""
        return self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False).decode().strip()

    def checkout_moved(self) -> tuple[str, str] | None:
        """(from, to) of the last checkout, from HEAD's newest reflog entry ("checkout: moving
        from A to B"); None when that entry is another kind of move, or there is none."""
        subject = self.newest_reflog_subject()
        if not subject.startswith(CHECKOUT_SUBJECT):
            return None
        moved, sep, to = subject.removeprefix(CHECKOUT_SUBJECT).rpartition(" to ")
        return (moved, to) if sep else None

    def newest_reflog_subject(self) -> str:
        """The subject of HEAD's newest reflog entry (`git reflog -n1 --format=%gs HEAD`),
        read from the end of `logs/HEAD` when that file is there."""
        newest = _last_line(self.git_dir / "logs" / "HEAD")
        if newest is not None and b"\t" in newest:
            return newest.partition(b"\t")[2].decode(errors="replace").strip()
        out = self.run("reflog", "-n1", "--format=%gs", "HEAD", check=False)
        return out.decode(errors="replace").strip()

    def branch_created(self, branch: str) -> float | None:
        """When `branch` was made: the time of its reflog's oldest entry (None: no reflog),
        read from `logs/refs/heads/BRANCH` when that file is there."""
        try:
            with open(self.common_dir / "logs" / "refs" / "heads" / branch, "rb") as handle:
                oldest = handle.readline()
        except OSError:
            oldest = b""
        if b"\t" in oldest:  # "<old> <new> <name> <<email>> <seconds> <zone>\t<subject>"
            fields = oldest.partition(b"\t")[0].split()
            if len(fields) >= 2 and fields[-2].isdigit():
                return float(fields[-2])
        out = self.run(
            "reflog",
            "show",
            "--date=unix",
            "--format=%gd",
            f"refs/heads/{branch}",
            "--",
            check=False,
        ).split()
        when = out[-1].decode().rpartition("@{")[2].rstrip("}") if out else ""
        return float(when) if when.isdigit() else None

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a git command without waiting, so independent listings overlap."""
        return subprocess.Popen(
            ["git", *args], cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def finish(self, proc: subprocess.Popen[bytes], *args: str) -> bytes:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise _failure(args, err, proc.returncode)
        return out

    def index_entries(
        self, pathspecs: tuple[str, ...] = MIGRATION_PATHSPECS
    ) -> dict[str, TreeEntry]:
        return self.parse_index_entries(self.run("ls-files", "--stage", "-z", "--", *pathspecs))

    @staticmethod
    def parse_index_entries(out: bytes) -> dict[str, TreeEntry]:
        entries: dict[str, TreeEntry] = {}
        for record in os.fsdecode(out).split("\0"):  # decoded once: a large index has 10,000s
            if not record:
                continue
            meta, _, path = record.partition("\t")
            mode, blob, stage = meta.split(" ")
            # A conflicted path has stages 1-3; the working tree holds the markers.
            if stage == "0" or path not in entries:
                entries[path] = TreeEntry(mode, blob)
        return entries

    def index_and_worktree(
        self, pathspecs: tuple[str, ...] = MIGRATION_PATHSPECS
    ) -> tuple[dict[str, TreeEntry], set[str], set[str], set[str]]:
        """The index entries, and (modified, deleted, untracked) relative to them.

        Ignored files are left out. The two listings run side by side.
        """
        return self.finish_index_and_worktree(self.start_index_and_worktree(pathspecs))

    def start_index_and_worktree(
        self, pathspecs: tuple[str, ...] = MIGRATION_PATHSPECS
    ) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
        """Start `index_and_worktree`'s two listings, to finish later: the index's first, which
        a cold check waits for before it parses."""
        listing = self.start("ls-files", "--stage", "-z", "--", *pathspecs)
        status_args = ("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
        return self.start(*status_args, "--", *pathspecs), listing

    def finish_index_and_worktree(
        self, started: tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]
    ) -> tuple[dict[str, TreeEntry], set[str], set[str], set[str]]:
        status_proc, listing = started
        entries = self.finish_index(listing)
        return (entries, *self.finish_worktree(status_proc))

    def finish_index(self, listing: subprocess.Popen[bytes]) -> dict[str, TreeEntry]:
        """The index entries of a started listing, without waiting for its status."""
        return self.parse_index_entries(self.finish(listing, "ls-files"))

    def finish_worktree(
        self, status_proc: subprocess.Popen[bytes]
    ) -> tuple[set[str], set[str], set[str]]:
        """(modified, deleted, untracked), from a started listing's status."""
        out = self.finish(status_proc, "status")
        modified: set[str] = set()
        deleted: set[str] = set()
        untracked: set[str] = set()
        for record in out.split(b"\0"):
            if len(record) < 4:
                continue
            status, path = record[:2].decode(), os.fsdecode(record[3:])
            tree_side = status[1]
            if status == "??":
                untracked.add(path)
            elif tree_side == "D":
                deleted.add(path)
            elif tree_side != " " or "U" in status or status == "AA":
                modified.add(path)  # the file on disk differs from the index, or is conflicted
        return modified, deleted, untracked

    def tree_entries(self, rev: str) -> dict[str, TreeEntry]:
        # ls-tree does not take glob pathspecs, so the listing is filtered by the caller.
        out = self.run("ls-tree", "-r", "-z", "--full-tree", "--end-of-options", rev)
        entries = {}
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, path = record.split(b"\t", 1)
            mode, kind, blob = meta.decode().split(" ")
            if kind == "blob":
                entries[os.fsdecode(path)] = TreeEntry(mode, blob)
        return entries

    @cached_property
    def gitpython(self) -> git.Repo:
        import git

        return git.Repo(self.root)

    def read_blobs(self, blobs: set[str]) -> None:
        """Read `blobs` in one `git cat-file --batch` (no GitPython import: a few blobs cost
        less than it), so `read_blob` answers them from memory."""
        wanted = sorted(blobs - self._blob_cache.keys())
        if not wanted:
            return
        out = self.run("cat-file", "--batch", stdin="".join(f"{b}\n" for b in wanted).encode())
        at = 0
        for blob in wanted:
            end = out.index(b"\n", at)
            header = out[at:end].split(b" ")
            if len(header) != 3 or header[1] != b"blob":
                at = end + 1  # "<id> missing": read_blob will say so
                continue
            size = int(header[2])
            self._blob_cache[blob] = out[end + 1 : end + 1 + size]
            at = end + 1 + size + 1

    def read_blob(self, blob: str) -> bytes:
        if blob not in self._blob_cache:
            stream = self.gitpython.odb.stream(bytes.fromhex(blob))
            self._blob_cache[blob] = stream.read()
        return self._blob_cache[blob]


HEADS = "ref: refs/heads/"
HEX = frozenset("0123456789abcdef")
CHECKOUT_SUBJECT = "checkout: moving from "


def _first_line(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.readline().decode(errors="replace").strip()
    except OSError:
        return None


def _last_line(path: Path, within: int = 8192) -> bytes | None:
    """The last line of `path`, read from its end; None when the file cannot be read, is
    empty, or its last line is longer than `within` bytes."""
    try:
        with open(path, "rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, end - within))
            data = handle.read().rstrip(b"\n")
    except OSError:
        return None
    _, newline, last = data.rpartition(b"\n")
    return last if last and (newline or end <= within) else None


def _failure(args: tuple[str, ...], stderr: bytes, status: int) -> GitCommandError:
    """git's last line of complaint, which is the one that says what went wrong."""
    lines = stderr.decode(errors="replace").strip().splitlines()
    return GitCommandError(f"git {' '.join(args)} failed: {lines[-1] if lines else status}")
