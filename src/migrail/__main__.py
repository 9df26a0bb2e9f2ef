from __future__ import annotations

from migrail.cli import main

raise SystemExit(main())
