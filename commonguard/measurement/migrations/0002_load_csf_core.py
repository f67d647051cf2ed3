"""Load the NIST CSF 2.0 Core (functions, categories, subcategories) from the vendored catalogue."""

from django.db import migrations


def forwards(apps, schema_editor):
    from commonguard.measurement.csf import read_catalogue, sync_catalogue

    sync_catalogue(
        read_catalogue(),
        function_model=apps.get_model("measurement", "CsfFunction"),
        category_model=apps.get_model("measurement", "CsfCategory"),
        sub_model=apps.get_model("measurement", "CsfSubcategory"),
    )


class Migration(migrations.Migration):
    dependencies = [("measurement", "0001_assessment_survey")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
