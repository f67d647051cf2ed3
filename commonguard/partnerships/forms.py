from __future__ import annotations

from typing import Any

from django import forms

from commonguard.core.tlp import TLP
from commonguard.partnerships.models import Engagement, Event, Initiative, Resource, SubAward, VolunteerOffer
from commonguard.partnerships.uploads import ALLOWED_DESCRIPTION, max_bytes
from commonguard.web.errors import set_choices
from commonguard.web.forms import Form

DATE = forms.DateInput(attrs={"type": "date"})
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class ResourceForm(Form):
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(label="Kind of resource", choices=Resource.Kind.choices)
    summary = forms.CharField(widget=forms.Textarea, help_text="What it is and when to use it. Markdown.")
    file = forms.FileField(
        required=False,
        label=f"File (up to {max_bytes() // (1024 * 1024)} MB)",
        help_text=f"Accepted: {ALLOWED_DESCRIPTION}. Or give a link below instead.",
    )
    url = forms.URLField(required=False, label="Link", max_length=500, assume_scheme="https")
    author_org = forms.TypedChoiceField(label="Shared by", coerce=int)
    tlp = forms.ChoiceField(label="Label (TLP)", choices=TLP.choices, initial=TLP.GREEN)
    recipient_orgs = forms.TypedMultipleChoiceField(
        label="TLP:AMBER: organisations that may read it", required=False, coerce=int
    )
    recipient_groups = forms.TypedMultipleChoiceField(
        label="TLP:AMBER: sharing groups that may read it (groups your organisations belong to)",
        required=False,
        coerce=int,
    )
    recipient_people = forms.CharField(
        label="TLP:RED: e-mail addresses of the people who may read it", required=False, widget=forms.Textarea
    )
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. ransomware, tabletop")
    csf_categories = forms.CharField(
        label="NIST CSF 2.0 categories", required=False, help_text="Codes separated by spaces, e.g. PR.AA RS.MA"
    )

    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        orgs: list[tuple[int, str]],
        all_orgs: list[tuple[int, str]],
        groups: list[tuple[int, str]],
        editing: bool = False,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        set_choices(self, "author_org", orgs)
        set_choices(self, "recipient_orgs", all_orgs)
        set_choices(self, "recipient_groups", groups)
        self.fields["recipient_orgs"].widget.attrs["size"] = "8"
        self.fields["recipient_groups"].widget.attrs["size"] = "4"
        self.fields["file"].widget.attrs["class"] = "usa-file-input"
        if editing:  # the owning organisation and the file stay as they are
            del self.fields["author_org"], self.fields["file"]
        else:
            del self.fields["version"]


class SearchForm(Form):
    q = forms.CharField(label="Search the library", required=False)
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "Any kind"), *Resource.Kind.choices])
    tag = forms.CharField(label="Tag", required=False)
    csf = forms.CharField(label="CSF category", required=False)


class CommentForm(Form):
    body = forms.CharField(label="Comment (Markdown)", widget=forms.Textarea(attrs={"rows": 4}), max_length=10_000)
    organization = forms.TypedChoiceField(label="As a member of", coerce=int)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "organization", orgs)


class InitiativeForm(Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea, help_text="Markdown.")
    lead_org = forms.TypedChoiceField(label="Lead organisation", coerce=int)
    status = forms.ChoiceField(choices=Initiative.Status.choices)
    partners = forms.TypedMultipleChoiceField(label="Partner organisations", required=False, coerce=int)
    goals = forms.CharField(label="Goals (one a line)", required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], all_orgs: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "lead_org", orgs)
        set_choices(self, "partners", all_orgs)
        self.fields["partners"].widget.attrs["size"] = "8"


class PartnerForm(Form):
    organization = forms.TypedChoiceField(label="Partner organisation", coerce=int)
    expectations = forms.CharField(
        label="What this partner is expected to do", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )

    def __init__(self, *args: Any, all_orgs: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "organization", all_orgs)


class MilestoneForm(Form):
    title = forms.CharField(label="Milestone title", max_length=200)
    owner_org = forms.TypedChoiceField(label="Owning organisation", coerce=int)
    owner = forms.EmailField(label="Owner's e-mail (optional)", required=False)
    due_on = forms.DateField(label="Due on", widget=DATE)

    def __init__(self, *args: Any, involved: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "owner_org", involved)


class ProgressForm(Form):
    body = forms.CharField(label="Progress note", widget=forms.Textarea(attrs={"rows": 3}))
    status = forms.ChoiceField(label="Status now", choices=Initiative.Status.choices, required=False)


class EngagementForm(Form):
    organization = forms.TypedChoiceField(label="Local government", coerce=int)
    kind = forms.ChoiceField(label="Kind", choices=Engagement.Kind.choices)
    occurred_on = forms.DateField(label="Date", widget=DATE)
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    follow_up = forms.CharField(label="Follow-up (optional)", required=False, max_length=300)
    follow_up_due = forms.DateField(label="Follow-up due (optional)", required=False, widget=DATE)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "organization", orgs)


class EventForm(Form):
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Event.Kind.choices)
    description = forms.CharField(widget=forms.Textarea, help_text="Markdown.")
    starts_at = forms.DateTimeField(label="Starts", widget=DATETIME)
    ends_at = forms.DateTimeField(label="Ends", widget=DATETIME)
    location = forms.CharField(max_length=200)
    capacity = forms.IntegerField(min_value=1, max_value=100_000)
    organizer_org = forms.TypedChoiceField(label="Organised by", coerce=int)
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], editing: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "organizer_org", orgs)
        if editing:
            del self.fields["organizer_org"]
            self.fields["capacity"].help_text = (
                "Raising it gives the new places to the waiting list, in order; it cannot go below the people "
                "registered."
            )
        else:
            del self.fields["version"]


class RegisterForm(Form):
    organization = forms.TypedChoiceField(label="Registering as a member of", coerce=int)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "organization", orgs)


class GrantProgramForm(Form):
    name = forms.CharField(max_length=200, initial="State and Local Cybersecurity Grant Program")
    fiscal_year = forms.IntegerField(min_value=2000, max_value=2100)
    federal_award = forms.DecimalField(label="Federal award (USD)", min_value=1, max_digits=14, decimal_places=2)
    cost_share_rate = forms.DecimalField(label="Cost share (%)", min_value=0, max_value=100, decimal_places=2)
    administrator = forms.TypedChoiceField(label="Administering agency", coerce=int)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "administrator", orgs)


class SubAwardForm(Form):
    organization = forms.TypedChoiceField(label="Local government", coerce=int)
    amount = forms.DecimalField(label="Amount (USD)", min_value=0, max_digits=14, decimal_places=2)
    match_amount = forms.DecimalField(label="Local match (USD)", min_value=0, max_digits=14, decimal_places=2)
    objective = forms.CharField(label="Plan objective", max_length=200)
    project = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    status = forms.ChoiceField(choices=SubAward.Status.choices)
    self_assessment_done = forms.BooleanField(label="The locality completed its annual self-assessment", required=False)
    version = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "organization", orgs)


class OfferForm(Form):
    organization = forms.TypedChoiceField(label="Offered through", coerce=int)
    kind = forms.ChoiceField(label="What is offered", choices=VolunteerOffer.Kind.choices)
    title = forms.CharField(label="Offer", max_length=200)
    skills = forms.CharField(max_length=300, help_text="e.g. network scanning, policy writing, phishing training")
    hours_per_month = forms.IntegerField(label="Hours a month", min_value=1, max_value=500)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "organization", orgs)


class NeedForm(Form):
    organization = forms.TypedChoiceField(label="Local government", coerce=int)
    title = forms.CharField(label="Help needed", max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    skills = forms.CharField(label="Skills needed", max_length=300)

    def __init__(self, *args: Any, orgs: list[tuple[int, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "organization", orgs)
