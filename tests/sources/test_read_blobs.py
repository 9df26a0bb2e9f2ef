"""`GitRepo.read_blobs`: many blobs in one `git cat-file --batch`, byte for byte."""

from __future__ import annotations

from pathlib import Path

from migrail.sources.gitrepo import GitRepo
from tests.djangoproject import git


def test_blobs_read_in_one_batch_are_the_blobs(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    contents = [b"", b"\n", b"one\ntwo\n", bytes(range(256)) * 3, b"no newline at the end"]
    ids = []
    for n, data in enumerate(contents):
        (tmp_path / f"f{n}").write_bytes(data)
        ids.append(git(tmp_path, "hash-object", "-w", f"f{n}").strip())
    missing = "0" * 40
    repo = GitRepo.discover(tmp_path)
    repo.read_blobs({*ids, missing})
    assert [repo._blob_cache[i] for i in ids] == contents
    assert missing not in repo._blob_cache
    assert [repo.read_blob(i) for i in ids] == contents
