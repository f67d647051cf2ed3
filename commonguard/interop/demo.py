"""Demo content: one STIX bundle imported for the home county by its systems administrator, so the
import page, the job page and the intelligence search show something (`make run`). Idempotent: the
bundle's id is fixed, a second run changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

from commonguard.interop.stix import dumps

NAMESPACE = uuid.UUID("3a4c1f0e-8e21-4d1b-9d7e-1f0c2b6a9e55")
TS = "2026-11-02T14:00:00.000Z"
TLP1_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"


def _id(kind: str, name: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, name)}"


def demo_bundle() -> dict[str, Any]:
    def sdo(kind: str, key: str, /, **extra: Any) -> dict[str, Any]:
        return {"type": kind, "spec_version": "2.1", "id": _id(kind, key), "created": TS, "modified": TS, **extra}

    phishing = sdo(
        "attack-pattern",
        "phishing",
        name="Phishing: Spearphishing Link",
        external_references=[{"source_name": "mitre-attack", "external_id": "T1566.002"}],
    )
    loader = sdo("malware", "loader", name="CountyBill Loader", is_family=True, malware_types=["downloader"])
    actor = sdo("intrusion-set", "actor", name="Harbor Spider", aliases=["TA-DEMO-7"])
    indicators = [
        sdo(
            "indicator",
            f"ind-{value}",
            name=f"Invoice lure {value}",
            pattern=pattern,
            pattern_type="stix",
            valid_from=TS,
            object_marking_refs=[TLP1_AMBER],
        )
        for value, pattern in [
            ("domain", "[domain-name:value = 'county-invoices.example.net']"),
            ("ip", "[ipv4-addr:value = '91.92.251.77']"),
            ("hash", "[file:hashes.'SHA-256' = '" + "4e" * 32 + "']"),
        ]
    ]
    uses = [
        sdo("relationship", "uses-1", relationship_type="uses", source_ref=actor["id"], target_ref=loader["id"]),
        sdo("relationship", "uses-2", relationship_type="uses", source_ref=actor["id"], target_ref=phishing["id"]),
    ]
    report = sdo(
        "report",
        "report",
        name="Invoice-themed loader against county finance offices",
        published=TS,
        report_types=["threat-report"],
        object_refs=[phishing["id"], loader["id"], actor["id"], *(i["id"] for i in indicators)],
    )
    return {
        "type": "bundle",
        "id": _id("bundle", "demo"),
        "objects": [phishing, loader, actor, *indicators, *uses, report],
    }


def seed_demo(state: Any) -> str:
    from commonguard.accounts.models import Membership, Role
    from commonguard.interop.imports import stix_import_request, stix_import_run
    from commonguard.interop.models import StixImport

    member = (
        Membership.objects.filter(
            status=Membership.Status.APPROVED,
            role=Role.MEMBER,
            user__email__endswith="@demo.test",
            organization__state=state.postal,
            organization__kind="county",
        )
        .select_related("user", "organization")
        .first()
    )
    if member is None:
        return "no demo member of a county, nothing imported"
    bundle = demo_bundle()
    if StixImport.objects.filter(organization=member.organization, bundle_id=bundle["id"], state="complete").exists():
        return "the demo bundle is imported already"
    job = stix_import_request(
        actor=member.user,
        organization=member.organization,
        raw=dumps(bundle).encode(),
        default_tlp="amber",
        filename="harbor-spider-report.json",
    )
    job = stix_import_run(job)
    return f"demo bundle {job.state} ({job.result.get('stored', 0)} objects stored)"
