"""`same_forwards`: what a migration does, less its placement, its reverses and `elidable`."""

from __future__ import annotations

import pytest

from migrail.graph.same_code import same_forwards

BEFORE = "ops = [migrations.RunSQL('UPDATE t SET a = 1', {args})]\n"


@pytest.mark.parametrize(
    ("old", "new", "same"),
    [
        ("", "reverse_sql=''", True),  # a reverse given since
        ("", "''", True),  # positionally
        ("''", "reverse_sql='DELETE'", True),
        ("''", "'', None, None, True", True),  # elidable, positionally
        ("''", "'', elidable=True", True),
        ("'', [a]", "'', [b]", False),  # state_operations after the reverse: code
        ("'', [a]", "'DELETE', [a]", True),
        ("'', None, {'x': 1}", "'', None, {'x': 2}", False),  # hints
    ],
)
def test_what_a_changed_call_still_does(old: str, new: str, same: bool) -> None:
    one = BEFORE.format(args=old).encode()
    other = BEFORE.format(args=new).encode()
    assert same_forwards(one, other) is same


def test_the_forwards_sql_itself_is_code() -> None:
    one = BEFORE.format(args="").encode()
    assert not same_forwards(one, one.replace(b"a = 1", b"a = 2"))
