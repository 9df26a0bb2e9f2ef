"""The old tree's modules compiled once per content, whatever tree they come from next."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

IMPORT = """
import sys
from pathlib import Path
from migrail.sync.old_code_bytecode import compile_once
tree, store = Path(sys.argv[1]), Path(sys.argv[2])
compile_once(tree, store)
sys.path.insert(0, str(tree))
import shop.helpers
print(shop.helpers.answer(), shop.helpers.answer.__code__.co_filename)
"""


def import_from(tree: Path, store: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-B", "-c", IMPORT, str(tree), str(store)],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def a_tree(path: Path, answer: int = 42) -> Path:
    (path / "shop").mkdir(parents=True)
    (path / "shop/__init__.py").write_text("")
    (path / "shop/helpers.py").write_text(f"def answer():\n    return {answer}\n")
    return path


def test_the_same_bytes_in_another_tree_are_not_compiled_again(tmp_path: Path) -> None:
    store = tmp_path / "bytecode"
    first = a_tree(tmp_path / "1-abc")
    assert import_from(first, store) == f"42 {first / 'shop/helpers.py'}"
    kept = sorted(store.iterdir())
    assert len(kept) == 2  # shop/__init__.py and shop/helpers.py
    second = a_tree(tmp_path / "2-def")
    # Read back, named where it is now (as a .pyc is).
    assert import_from(second, store) == f"42 {second / 'shop/helpers.py'}"
    assert sorted(store.iterdir()) == kept
    changed = a_tree(tmp_path / "3-ghi", answer=7)
    assert import_from(changed, store) == f"7 {changed / 'shop/helpers.py'}"
    assert len(list(store.iterdir())) == 3


def test_a_damaged_entry_is_compiled_again(tmp_path: Path) -> None:
    store = tmp_path / "bytecode"
    import_from(a_tree(tmp_path / "1-abc"), store)
    for entry in store.iterdir():
        entry.write_bytes(b"not marshal data")
    assert import_from(a_tree(tmp_path / "2-def"), store).startswith("42 ")


def test_modules_outside_the_tree_are_left_to_python(tmp_path: Path) -> None:
    store = tmp_path / "bytecode"
    outside = a_tree(tmp_path / "elsewhere")
    out = subprocess.run(
        [sys.executable, "-B", "-c", IMPORT, str(tmp_path / "tree"), str(store)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(outside), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert list(store.iterdir()) == []
