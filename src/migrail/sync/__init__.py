"""The sync core: settings, safety, plan, rollback (here or with older code), migrate,
backups, journal, locks."""
