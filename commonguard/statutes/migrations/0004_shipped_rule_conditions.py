"""Shipped rules get the conditions that need facts the first reports did not collect (Florida's
severity levels, Texas election data, Indiana water utilities, New York City's exemption), and the
new rules for them (tx-election, in-water-utility). Contact channels the research names fill empty ones."""

from django.db import migrations


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    from commonguard.statutes.shipped import apply_shipped_conditions

    apply_shipped_conditions(apps.get_model("statutes", "ReportingRule"), apps.get_model("statutes", "RuleRecipient"))


class Migration(migrations.Migration):
    dependencies = [("statutes", "0003_rule_conditions")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
