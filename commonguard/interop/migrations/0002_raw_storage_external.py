"""PostgreSQL: keep the served JSON text uncompressed (STORAGE EXTERNAL). Pages are read far more
often than written; decompressing every object on every page cost more than the query itself
(bench/taxii/README.md). No effect on SQLite."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE interop_stixobject ALTER COLUMN raw SET STORAGE EXTERNAL")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE interop_stixobject ALTER COLUMN raw SET STORAGE EXTENDED")


class Migration(migrations.Migration):
    dependencies = [("interop", "0001_stix_storage")]

    operations = [migrations.RunPython(forwards, backwards)]
