"""The report as sent to a recipient: a JSON copy and a PDF (WeasyPrint), built from the same facts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string

if TYPE_CHECKING:
    from commonguard.incidents.models import IncidentReport
    from commonguard.statutes.models import Obligation

# What a recipient receives: every fact of the report except the state's own case handling.
_LEFT_OUT = {"id", "assignee", "phase", "created_by", "organization", "veris"}


def _value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str, list, dict)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def report_facts(report: IncidentReport) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for field in report._meta.concrete_fields:
        if field.name in _LEFT_OUT:
            continue
        facts[field.name] = _value(getattr(report, field.attname))
    return facts


def report_document(report: IncidentReport, obligation: Obligation | None = None) -> dict[str, Any]:
    org = report.organization
    document: dict[str, Any] = {
        "type": "commonguard.incident-report",
        "version": 1,
        "organization": {
            "name": org.name,
            "kind": org.kind,
            "state": org.state,
            "county_fips": org.county_fips,
            "place_fips": org.place_fips,
            "population": org.population,
        },
        "reported_by": {"name": report.created_by.full_name, "email": report.created_by.email},
        "report": report_facts(report),
    }
    if obligation is not None:
        document["obligation"] = {
            "recipient": obligation.recipient_name,
            "citation": obligation.citation,
            "clock_start": obligation.clock_start,
            "clock_started_at": obligation.clock_started_at.isoformat(),
            "due_at": obligation.due_at.isoformat(),
        }
    return document


def report_json(report: IncidentReport, obligation: Obligation | None = None) -> str:
    return json.dumps(report_document(report, obligation), indent=2, sort_keys=True, ensure_ascii=False)


def report_pdf(report: IncidentReport, obligation: Obligation | None = None) -> bytes:
    """The report as a PDF. WeasyPrint is imported here, so the app starts without Pango."""
    from weasyprint import HTML

    labels = {f.name: str(f.verbose_name).capitalize() for f in report._meta.concrete_fields}
    facts = report_facts(report)
    rows = [(labels.get(name, name), value) for name, value in facts.items() if value not in (None, "", [], {})]
    html = render_to_string(
        "statutes/report_pdf.html",
        {"report": report, "obligation": obligation, "rows": rows, "org": report.organization},
    )
    return bytes(HTML(string=html).write_pdf())
