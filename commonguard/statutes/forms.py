"""Forms of the statutory-clock pages: the rules screen, recording a sending, waiving, a resolution."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from commonguard.incidents.models import DataType
from commonguard.orgs.models import Organization
from commonguard.orgs.states import STATES
from commonguard.statutes.models import FEDERAL, ClockStart, DurationUnit, Guardrail, Obligation, Sending, Trigger
from commonguard.statutes.rules import report_fact_choices, report_field_choices
from commonguard.web.errors import set_choices
from commonguard.web.forms import Form


class CodeListField(forms.CharField):
    """Codes separated by commas or spaces, kept as a list."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        return [code for code in re.split(r"[\s,]+", text or "") if code]


def state_label(code: str) -> str:
    return "United States (federal)" if code == FEDERAL else STATES[code].name


class RuleForm(Form):
    state = forms.ChoiceField()
    key = forms.SlugField(
        label="Key", max_length=60, required=False, help_text="A short stable name, e.g. oh-incident (new rules only)."
    )
    name = forms.CharField(max_length=160, help_text="What the clock is, e.g. “Ransomware incident report”.")
    citation = forms.CharField(max_length=300, help_text="Statute and section.")
    source_url = forms.URLField(label="Source (optional)", required=False, assume_scheme="https")
    notes = forms.CharField(label="What the law asks, in plain words", required=False, widget=forms.Textarea)
    kinds = forms.MultipleChoiceField(
        label="Organisations it applies to",
        choices=Organization.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every kind.",
    )
    min_population = forms.IntegerField(label="Only from this population (optional)", required=False, min_value=0)
    excluded_fips = CodeListField(
        label="Organisations exempt by place (optional)",
        required=False,
        help_text="County (5 digits) or place (7 digits) FIPS codes, e.g. New York City: 3651000 36005 36047 "
        "36061 36081 36085.",
    )
    min_severity = forms.TypedChoiceField(
        label="Only from this severity level (optional)",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any level"), *[(level, f"Level {level} or higher") for level in (2, 3, 4, 5)]],
        help_text="A report without a severity level still opens the obligation.",
    )
    data_types = forms.MultipleChoiceField(
        label="Only when the report involves one of these data (optional)",
        choices=DataType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    except_data_types = forms.MultipleChoiceField(
        label="Not when the report involves one of these data (optional)",
        choices=DataType.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    required_facts = forms.MultipleChoiceField(
        label="Only when the report says yes to (optional)", widget=forms.CheckboxSelectMultiple, required=False
    )
    trigger = forms.ChoiceField(label="What opens the obligation", choices=Trigger.choices)
    clock_start = forms.ChoiceField(label="The clock starts at", choices=ClockStart.choices)
    duration = forms.IntegerField(min_value=1)
    unit = forms.ChoiceField(choices=DurationUnit.choices)
    effective_from = forms.DateField(
        label="In force from (optional)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    effective_to = forms.DateField(
        label="In force until (optional)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    enabled = forms.BooleanField(label="Enabled (reports open obligations under this rule)", required=False)
    required_fields = forms.MultipleChoiceField(
        label="Facts the recipient requires", widget=forms.CheckboxSelectMultiple, required=False
    )
    guardrail = forms.ChoiceField(label="Ransom guardrail", choices=Guardrail.choices, required=False)
    guardrail_basis = forms.CharField(label="Legal basis of the guardrail", max_length=300, required=False)

    def __init__(self, *args: Any, states: list[str], creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "state", [(s, state_label(s)) for s in states])
        set_choices(self, "required_fields", report_field_choices())
        set_choices(self, "required_facts", report_fact_choices())
        if creating:
            self.fields["key"].required = True
        else:
            del self.fields["key"]


class RecipientForm(Form):
    name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(label="E-mail (optional)", required=False)
    portal_url = forms.URLField(label="Portal (optional)", required=False, assume_scheme="https")
    phone = forms.CharField(label="Phone (optional)", max_length=40, required=False)
    duration = forms.IntegerField(label="Own duration (optional)", required=False, min_value=1)
    unit = forms.ChoiceField(label="Its unit", choices=[("", "The rule's"), *DurationUnit.choices], required=False)
    DELETE = forms.BooleanField(label="Remove this recipient", required=False)

    def has_content(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        return any(data.get(f) for f in ("name", "email", "portal_url", "phone", "duration"))


RecipientFormSet = forms.formset_factory(RecipientForm, extra=2, max_num=12, validate_max=True)


class SendingForm(Form):
    channel = forms.ChoiceField(
        label="How it was sent",
        choices=[(c.value, c.label) for c in Sending.Channel if c not in {Sending.Channel.EMAIL, Sending.Channel.HUB}],
    )
    sent_at = forms.DateTimeField(
        label="When it was sent (your organisation's local time)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    reference = forms.CharField(label="Reference or ticket number (optional)", max_length=200, required=False)
    evidence = forms.CharField(
        label="What was sent",
        widget=forms.Textarea,
        help_text="Paste the text submitted (the portal's confirmation, the e-mail), or notes of the call.",
    )


class CloseForm(Form):
    status = forms.ChoiceField(
        label="Outcome",
        choices=[(Obligation.Status.WAIVED, "Waived"), (Obligation.Status.NOT_APPLICABLE, "Not applicable")],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(label="Why", max_length=300)


class ResolutionForm(Form):
    document = forms.FileField(label="Resolution or ordinance (PDF, PNG, JPEG or text, up to 20 MB)")
