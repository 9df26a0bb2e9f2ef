"""Sources: migration files of the working tree, index or a commit; configuration; caches."""
