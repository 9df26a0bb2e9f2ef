"""Entry points: the `migrail` command, the git hooks, install and the demo."""
