"""The Django app at work: system checks, makemigrations/squashmigrations, first-party apps."""
