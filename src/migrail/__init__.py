"""migrail: Django migrations that follow your git branches."""

from __future__ import annotations

__version__ = "0.1.0"
