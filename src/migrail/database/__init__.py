"""Database: settings, safety, plans, rollbacks (here or with older code), backups, snapshots."""
