"""The database commands, one module each, above the sync core and its features."""
