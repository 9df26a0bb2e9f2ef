from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0002_rename")]
    operations = [migrations.RemoveField(model_name="product", name="price")]
