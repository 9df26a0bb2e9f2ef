"""Which databases sync may touch: decided from settings alone, before connecting."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

LOCAL_HOSTS = frozenset({"", "localhost", "localhost.localdomain"})


def is_local(settings_dict: Mapping[str, Any]) -> bool:
    """SQLite files, loopback addresses, `localhost` and Unix sockets count as local."""
    engine = str(settings_dict.get("ENGINE", ""))
    if "sqlite" in engine:
        return True
    host = str(settings_dict.get("HOST") or "")
    if host in LOCAL_HOSTS or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refusal(
    alias: str,
    settings_dict: Mapping[str, Any],
    *,
    debug: bool,
    allow_remote: bool,
    allow_debug_false: bool,
) -> str | None:
    """Why sync must not touch this database, or None."""
    if not allow_remote and not is_local(settings_dict):
        return (
            f"database {alias!r} is on {settings_dict.get('HOST')!r}, not this machine; "
            "migrail syncs local databases only "
            "(set `allow_remote_databases = true` in [tool.migrail] to allow it)"
        )
    if not debug and not allow_debug_false:
        return (
            "settings have DEBUG = False, which looks like production; migrail refuses "
            "(set `allow_debug_false = true` in [tool.migrail] to allow it)"
        )
    return None
