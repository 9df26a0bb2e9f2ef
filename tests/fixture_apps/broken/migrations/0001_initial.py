from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunSQL("SELECT * FROM no_such_table", migrations.RunSQL.noop)]
