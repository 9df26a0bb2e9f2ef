from __future__ import annotations

from migrail.cli.entry import main

raise SystemExit(main())
