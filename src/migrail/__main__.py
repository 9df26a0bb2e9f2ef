from __future__ import annotations

from migrail.entry import main

raise SystemExit(main())
