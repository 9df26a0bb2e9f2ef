"""`migrail restore [BACKUP]`: list the backups sync took, or put one back."""

from __future__ import annotations

from migrail.backup import list_backups, restore_backup
from migrail.config import Config
from migrail.errors import EXIT_CLEAN, MigrailError
from migrail.gitrepo import GitRepo


def run_restore(repo: GitRepo, config: Config, name: str | None, alias: str) -> int:
    backups = list_backups(repo.migrail_dir / "backups")
    if name is None:
        if not backups:
            print("migrail: no backups yet (sync takes one before every rollback)")
        for backup in backups:
            print(
                f"{backup.name}  {backup.created}  "
                f"{backup.alias} ({backup.vendor}: {backup.database})"
            )
        return EXIT_CLEAN
    chosen = [b for b in backups if b.name == name]
    if not chosen:
        raise MigrailError(f"no backup named {name!r}; `migrail restore` lists them")
    from django.conf import settings

    from migrail.django_project import setup_django

    setup_django(repo.root, config)
    restore_backup(chosen[0], settings.DATABASES[alias])
    print(f"migrail: restored database {alias!r} from {chosen[0].name}")
    return EXIT_CLEAN
