"""Graph core, pure: a migration's source text in, records and graphs out (Python `ast` only)."""
