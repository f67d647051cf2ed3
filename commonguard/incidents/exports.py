"""Exports of one report: the CISA incident-report fields as JSON, and a PDF summary (WeasyPrint).
(VERIS JSON: veris.py.) Callers pass a report read through `visible_to` and audit the read."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string

from commonguard.incidents.models import DataType, IncidentReport


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def cisa_fields(report: IncidentReport) -> dict[str, Any]:
    """The fields of CISA's incident reporting form (Federal Incident Notification Guidelines, NCISS
    vocabularies), labelled as CISA names them."""
    org = report.organization
    return {
        "report_type": "initial" if not report.updates.exists() else "supplemental",
        "impacted_entity": {
            "name": org.name,
            "type": org.get_kind_display(),
            "state": report.state,
            "county_fips": org.county_fips or None,
            "sector": "Government Facilities (state, local, tribal and territorial)",
        },
        "incident_overview": {
            "title": report.title,
            "category": report.get_category_display() if report.category else None,
            "description": report.description,
            "attack_vector": report.get_attack_vector_display() if report.attack_vector else None,
        },
        "timeline": {
            "incident_start": _iso(report.started_at),
            "detected": _iso(report.discovered_at),
            "confirmed": _iso(report.confirmed_at),
            "contained": _iso(report.contained_at),
            "recovered": _iso(report.recovered_at),
            "reported_to_state": _iso(report.submitted_at),
        },
        "impact": {
            "functional_impact": report.get_functional_impact_display() if report.functional_impact else None,
            "information_impact": report.get_information_impact_display() if report.information_impact else None,
            "recoverability": report.get_recoverability_display() if report.recoverability else None,
            "systems_affected": report.systems_affected,
            "services_affected": report.services_affected,
            "data_types": [DataType(v).label for v in report.data_types],
            "records_affected": report.records_affected,
            "estimated_cost_usd": _money(report.estimated_cost),
        },
        "ransom": {
            "demanded": report.ransom_demanded,
            "amount": _money(report.ransom_amount),
            "currency": report.ransom_currency or None,
            "paid": report.ransom_paid,
            "paid_at": _iso(report.ransom_paid_at),
        },
        "backups": {
            "last_good_backup": _iso(report.last_good_backup_at),
            "location": report.backup_location or None,
            "affected": report.backups_affected,
        },
        "notifications": {
            "law_enforcement": report.law_enforcement_notified,
            "insurer": report.insurer_notified,
        },
        "assistance_requested": report.help_wanted or None,
        "indicators": [line.strip() for line in report.indicators.splitlines() if line.strip()],
        "reference": str(report.uuid),
    }


def pdf_summary(report: IncidentReport, *, updates: Any, attachments: Any) -> bytes:
    """A printable summary of the report (what the reporter sees: no internal notes)."""
    from weasyprint import HTML  # lazily: the app starts without Pango

    html = render_to_string(
        "incidents/report_pdf.html",
        {"report": report, "cisa": cisa_fields(report), "updates": updates, "attachments": attachments},
    )
    return bytes(HTML(string=html).write_pdf())
