"""`manage.py migrate` by hand keeps the applied sources too, as migrail's own sync does.

A migration applied by hand and then deleted before any commit had it (a branch's work
thrown away, `git stash -u`) can then still be rolled back: its source is in migrail's
copies (`.git/migrail/sources`). Best effort: a failure here never fails `migrate`.
"""

from __future__ import annotations

import sys
from typing import Any


def remember_after_migrate(app_config: Any, using: str, **kwargs: Any) -> None:
    """`post_migrate` receiver: once per `migrate` (for its last app), the applied sources."""
    from django.apps import apps
    from django.db import DatabaseError, connections
    from django.db.migrations.loader import MigrationLoader

    from migrail.errors import MigrailError
    from migrail.sources.gitrepo import GitRepo
    from migrail.sync.migrate import running_plan
    from migrail.sync.orphan_sources import remember_applied_sources

    if running_plan.get():
        return  # migrail's own sync, which keeps them itself
    last = [config for config in apps.get_app_configs() if config.models_module is not None]
    if not last or app_config is not last[-1]:
        return  # `post_migrate` comes once per app; once is enough
    from migrail.django_app.packages import project_root

    try:
        repo = GitRepo.discover(project_root()[0])
        connection = connections[using]
        remember_applied_sources(repo, connection, MigrationLoader(connection))
    except MigrailError:
        return  # not in a git repository: nothing to keep them in
    except (OSError, DatabaseError) as err:
        print(f"migrail: could not keep the applied migrations' sources: {err}", file=sys.stderr)
