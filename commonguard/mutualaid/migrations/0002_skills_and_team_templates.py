"""Load the skills taxonomy and the team-package templates (FEMA Cyber Incident Response Team)
from commonguard/mutualaid/data/. Re-running the loader (`load_reference_data`) keeps them current."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"


def load(apps: Any, schema_editor: Any) -> None:
    Skill = apps.get_model("mutualaid", "Skill")
    TeamPackage = apps.get_model("mutualaid", "TeamPackage")
    for row in json.loads((DATA / "skills.json").read_text()):
        Skill.objects.update_or_create(
            slug=row["slug"], defaults={"name": row["name"], "category": row["category"], "bit": row["bit"]}
        )
    for row in json.loads((DATA / "team_templates.json").read_text()):
        skills = list(Skill.objects.filter(slug__in=row["capabilities"]))
        bits = 0
        for skill in skills:
            bits |= 1 << skill.bit
        team, _ = TeamPackage.objects.update_or_create(
            name=row["name"],
            is_template=True,
            defaults={
                "status": "active",
                "nims_resource_type": row["nims_resource_type"],
                "type_level": row["type_level"],
                "mission": row["mission"],
                "limitations": row["limitations"],
                "roles": row["roles"],
                "self_sufficiency_hours": row["self_sufficiency_hours"],
                "max_deployment_days": row["max_deployment_days"],
                "shift_length_hours": row["shift_length_hours"],
                "remote_capable": row["remote_capable"],
                "onsite_capable": row["onsite_capable"],
                "skill_bits": bits,
            },
        )
        team.capabilities.set(skills)


class Migration(migrations.Migration):
    dependencies = [("mutualaid", "0001_mutual_aid")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
