"""MySQL/MariaDB option files, read for the one thing the safety rule needs: every host
a client could take from them.

Read line by line as the client library reads them (MariaDB Connector/C, MySQL's
`my_load_defaults`): blanks around a line dropped, so an indented `host=` counts; `#` and
`;` comments; `key = value` with the blanks around `=` and quotes dropped; `loose-` and `_`
spellings; `!include` and `!includedir` followed. The driver reads `[client]`,
`[client-server]`, `[client-mariadb]` and `read_default_group`; `mysqldump` and `mysql`
theirs besides; PyMySQL only `read_default_group`. So every group but the server's is
read, and every value counts (whichever one a client takes last): one host elsewhere in
any of them makes the database not local.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from migrail.errors import MigrailError

MAX_DEPTH = 10  # nested `!include`s followed
# The server's groups (`[mysqld]`, `[mariadb-10.11]`, `[mysqld2]` of mysqld_multi); a
# client reads none of them.
SERVER_GROUP = re.compile(
    r"(mysqld|mariadbd|server|mariadb|embedded|galera)(-[0-9.]+)?|mysqld[0-9]+|mysqld_safe"
    r"|mysqld_multi|mariadbd-safe|mariadb-multi"
)
INCLUDED_SUFFIXES = (".cnf", ".ini")


class UnreadableOptionFile(MigrailError):
    """An option file (or one it includes) cannot be read: where a client would connect is
    unknown."""


@dataclass(frozen=True)
class HostOption:
    host: str
    where: str  # "/etc/mysql/my.cnf [client]"


def default_files(env: Mapping[str, str]) -> list[Path]:
    """The files a client reads when told to read option files but given none."""
    files = [Path("/etc/my.cnf"), Path("/etc/mysql/my.cnf")]
    for variable in ("MARIADB_HOME", "MYSQL_HOME"):
        if env.get(variable):
            files.append(Path(env[variable]) / "my.cnf")
    home = env.get("HOME") or os.path.expanduser("~")
    files.append(Path(home) / ".my.cnf")
    return files


def hosts_in(path: Path, *, required: bool = True, depth: int = 0) -> list[HostOption]:
    """Every `host` set in a client group of `path` or a file it includes."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        if required:
            raise UnreadableOptionFile(f"option file {path}, which does not exist") from None
        return []
    except OSError as err:
        raise UnreadableOptionFile(
            f"option file {path}, which cannot be read ({err.strerror or err})"
        ) from None
    found: list[HostOption] = []
    group: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("!include"):
            found += _included(path, line, depth)
        elif line.startswith("["):
            group = line[1:].split("]", 1)[0].strip().lower()
        elif group is not None and not _server_group(group):
            key, value = _option(line)
            if _is_host(key):
                found.append(HostOption(value, f"{path} [{group}]"))
    return found


def _included(path: Path, line: str, depth: int) -> list[HostOption]:
    directive, _, target = line.partition(" ")
    target_path = path.parent / target.strip()
    if depth >= MAX_DEPTH:
        raise UnreadableOptionFile(f"option file {path}, whose includes nest too deep")
    if directive == "!include":
        return hosts_in(target_path, depth=depth + 1)
    if directive == "!includedir":
        try:
            names = sorted(p for p in target_path.iterdir() if p.suffix in INCLUDED_SUFFIXES)
        except OSError as err:
            where = f"`{directive} {target_path}` in {path}"
            why = err.strerror or err
            raise UnreadableOptionFile(f"{where}, which cannot be read ({why})") from None
        return [found for p in names for found in hosts_in(p, depth=depth + 1)]
    raise UnreadableOptionFile(f"`{directive}` in {path}, which migrail does not know")


def _server_group(group: str) -> bool:
    return SERVER_GROUP.fullmatch(group) is not None


def _option(line: str) -> tuple[str, str]:
    """`key`, `value` of an option line: blanks around `=` dropped, a trailing ` #`
    comment outside quotes dropped, one pair of quotes around the value dropped."""
    key, _, value = line.partition("=")
    value = value.strip()
    if value[:1] in ("'", '"') and value.count(value[0]) >= 2:
        value = value[1 : value.index(value[0], 1)]
    else:
        value = value.split(" #", 1)[0].split("\t#", 1)[0].strip()
    key = key.strip().lower().replace("_", "-").removeprefix("loose-")
    return key, value


def _is_host(key: str) -> bool:
    """`host`, or a prefix of it the programs take for it (`ho`, `hos`)."""
    return len(key) >= 2 and "host".startswith(key)
