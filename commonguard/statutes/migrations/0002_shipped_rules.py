"""Load the shipped reporting rules (data/rules.json): NC, VA, TX, FL, IN, NY, MN, OH, WV and the
proposed federal CIRCIA rule (disabled). Existing rules (by key) are left as their state edited them."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from commonguard.statutes.shipped import load_shipped_rules

    load_shipped_rules(apps.get_model("statutes", "ReportingRule"), apps.get_model("statutes", "RuleRecipient"))


class Migration(migrations.Migration):
    dependencies = [("statutes", "0001_rules_and_obligations")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
