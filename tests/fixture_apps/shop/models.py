from __future__ import annotations

from django.db import models


class Product(models.Model):
    id = models.AutoField(primary_key=True)
