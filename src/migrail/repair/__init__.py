"""Repair: renumber a branch's migrations onto the other side's leaf during a merge or rebase."""
