from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [migrations.RenameModel(old_name="Item", new_name="Product")]
