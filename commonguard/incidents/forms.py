"""Forms of the report pages. They only parse and type the input; the services validate the facts."""

from __future__ import annotations

from typing import Any

from django import forms

from commonguard.core.tlp import TLP
from commonguard.incidents import veris
from commonguard.incidents.models import (
    AttackVector,
    Category,
    DataType,
    FunctionalImpact,
    IncidentReport,
    InformationImpact,
    Recoverability,
    SeverityLevel,
)
from commonguard.web.forms import Form

BLANK = [("", "— choose —")]


class DateTimeLocal(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


def _when(label: str, help_text: str = "") -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        widget=DateTimeLocal(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text=help_text,
    )


def _choice(label: str, choices: Any) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, required=False, choices=BLANK + list(choices))


class RevisionMixin(forms.Form):
    revision = forms.IntegerField(widget=forms.HiddenInput, required=False)


class StepWhatForm(Form, RevisionMixin):
    """Screen 1: what happened and when (the minimal report)."""

    title = forms.CharField(
        label="A short title",
        max_length=200,
        required=False,
        help_text="For example: “Ransomware on the county file servers”.",
    )
    category = _choice("What happened", Category.choices)
    description = forms.CharField(
        label="What happened, in a few words",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What you saw, what is affected, what you have done so far.",
    )
    discovered_at = _when("When did you discover it?", "Your organisation's local time. An estimate is fine.")
    started_at = _when("When did it start? (if known)")
    confirmed_at = _when("When did you confirm it was an incident? (if you have)")


YES_NO_UNKNOWN = [("", "Not known"), ("yes", "Yes"), ("no", "No")]


class StepImpactForm(Form, RevisionMixin):
    """Screen 2: impact, ransom, backups, help (all optional)."""

    systems_affected = forms.CharField(
        label="Systems affected", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    services_affected = forms.CharField(
        label="Services to the public affected", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    functional_impact = _choice("Functional impact", FunctionalImpact.choices)
    information_impact = _choice("Information impact", InformationImpact.choices)
    recoverability = _choice("Recoverability", Recoverability.choices)
    attack_vector = _choice("How it got in (attack vector)", AttackVector.choices)
    data_types = forms.MultipleChoiceField(
        label="Data involved", required=False, choices=DataType.choices, widget=forms.CheckboxSelectMultiple
    )
    records_affected = forms.IntegerField(label="Number of records affected (if known)", required=False)
    severity_level = forms.TypedChoiceField(
        label="Severity level (if you know it)",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Not assessed"), *SeverityLevel.choices],
        help_text="The national scale (NCIRP): 5 emergency, 4 severe, 3 high, 2 medium, 1 low. Some states' "
        "deadlines depend on it.",
    )
    water_utility_affected = forms.BooleanField(
        label="The operations of a water or wastewater utility we run are affected", required=False
    )
    ransom_demanded = forms.BooleanField(label="A ransom was demanded", required=False)
    ransom_amount = forms.DecimalField(label="Ransom amount", required=False, max_digits=14, decimal_places=2)
    ransom_currency = forms.CharField(label="Currency (USD, BTC, ...)", required=False, max_length=12)
    ransom_paid = forms.BooleanField(label="The ransom was paid", required=False)
    ransom_paid_at = _when("When was it paid?")
    last_good_backup_at = _when("Last good backup")
    backup_location = forms.CharField(label="Where backups are kept", required=False, max_length=200)
    backups_affected = forms.TypedChoiceField(
        label="Were the backups affected?",
        required=False,
        choices=YES_NO_UNKNOWN,
        coerce=lambda v: {"yes": True, "no": False}.get(v),
        empty_value=None,
    )
    contained_at = _when("Contained at")
    recovered_at = _when("Recovered at")
    estimated_cost = forms.DecimalField(
        label="Estimated cost so far (USD)", required=False, max_digits=14, decimal_places=2
    )
    law_enforcement_notified = forms.BooleanField(label="Law enforcement has been told", required=False)
    insurer_notified = forms.BooleanField(label="Our insurer has been told", required=False)
    help_wanted = forms.CharField(
        label="What help do you want, if any?", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    indicators = forms.CharField(
        label="Indicators (one per line)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="IP addresses, domains, URLs, file hashes, sender addresses.",
    )


STEP_FORMS: dict[int, type[forms.Form]] = {1: StepWhatForm, 2: StepImpactForm}
STEP_TITLES = {1: "What happened", 2: "Impact and help", 3: "Files and send"}


def initial_for(report: IncidentReport, form_class: type[forms.Form]) -> dict[str, Any]:
    initial = {name: getattr(report, name) for name in form_class.base_fields if hasattr(report, name)}
    if "backups_affected" in initial:
        affected = report.backups_affected
        initial["backups_affected"] = "" if affected is None else "yes" if affected else "no"
    initial["revision"] = report.revision
    return initial


def facts(form: forms.Form) -> dict[str, Any]:
    """The typed facts of a valid step form, as the services take them."""
    return {name: value for name, value in form.cleaned_data.items() if name != "revision"}


class UpdateForm(StepWhatForm, StepImpactForm):
    """A supplemental update: every fact, plus a note."""

    note = forms.CharField(label="What is new", required=False, widget=forms.Textarea(attrs={"rows": 4}))


class AttachmentForm(Form):
    file = forms.FileField(label="File", help_text="Up to 200 MB. Programs and malware samples are kept quarantined.")
    description = forms.CharField(label="What is it? (optional)", required=False, max_length=300)


class ClassifyForm(Form, RevisionMixin):
    """VERIS 1.4.1, optional: the fields are built from the enumerations."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for path, heading, values in veris.choices():
            self.fields[path.replace(".", "__")] = forms.MultipleChoiceField(
                label=heading,
                required=False,
                choices=[(v, v) for v in values],
                widget=forms.SelectMultiple(attrs={"size": 6}),
            )

    def classification(self) -> dict[str, list[str]]:
        return {
            name.replace("__", "."): values
            for name, values in self.cleaned_data.items()
            if name != "revision" and values
        }


class TriageForm(Form):
    phase = forms.ChoiceField(label="Case phase", choices=IncidentReport.Phase.choices)
    status = forms.ChoiceField(
        label="Status",
        choices=[
            (IncidentReport.Status.SUBMITTED, "Submitted (not yet acknowledged)"),
            (IncidentReport.Status.ACKNOWLEDGED, "Acknowledged"),
            (IncidentReport.Status.CLOSED, "Closed"),
            (IncidentReport.Status.DUPLICATE, "Duplicate"),
            (IncidentReport.Status.NOT_REPORTABLE, "Not reportable"),
        ],
    )
    assignee = forms.TypedChoiceField(label="Assigned to", required=False, coerce=int, empty_value=None)


class TaskForm(Form):
    title = forms.CharField(label="What needs doing", max_length=200)
    detail = forms.CharField(label="Detail (optional)", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    due_at = _when("Due (optional)")


class NoteForm(Form):
    text = forms.CharField(
        label="Internal note (never shown to the reporter)", widget=forms.Textarea(attrs={"rows": 3})
    )


class QueueFilterForm(Form):
    status = _choice("Status", [(s, label) for s, label in IncidentReport.Status.choices if s != "draft"])
    phase = _choice("Phase", IncidentReport.Phase.choices)
    category = _choice("Category", Category.choices)
    mine = forms.BooleanField(label="Assigned to me", required=False)


class WarnPeersForm(Form):
    title = forms.CharField(label="Alert title", max_length=200)
    summary = forms.CharField(label="What peers should know", widget=forms.Textarea(attrs={"rows": 6}))
    tlp = forms.ChoiceField(
        label="TLP label",
        choices=[(t.value, t.label) for t in (TLP.CLEAR, TLP.GREEN, TLP.AMBER)],
        initial=TLP.GREEN.value,
    )
    include_identity = forms.BooleanField(
        label="Name our organisation",
        required=False,
        help_text="Unticked, peers see only “a county in Region N”.",
    )
    carry_indicators = forms.BooleanField(label="Carry the report's indicators over", required=False, initial=True)
