from __future__ import annotations

from django import forms

from commonguard.accounts.models import Role
from commonguard.orgs.models import ContactAssignment, Organization
from commonguard.orgs.states import STATE_CHOICES
from commonguard.web.forms import Form


class DirectorySearchForm(Form):
    q = forms.CharField(
        label="Name or FIPS code",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    kind = forms.ChoiceField(label="Kind", required=False, choices=[("", "Any kind"), *Organization.Kind.choices])
    county = forms.TypedChoiceField(label="County", required=False, coerce=int, empty_value=None)
    region = forms.TypedChoiceField(label="Region", required=False, coerce=int, empty_value=None)


class NewOrganizationForm(Form):
    name = forms.CharField(
        label="Name of the organisation", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "organization"})
    )
    kind = forms.ChoiceField(label="Kind", choices=Organization.Kind.choices)
    state = forms.ChoiceField(label="State", choices=STATE_CHOICES)
    county = forms.TypedChoiceField(label="County it lies in", required=False, coerce=int, empty_value=None)
    website = forms.URLField(label="Website", required=False, assume_scheme="https")
    population = forms.IntegerField(label="Population served", required=False, min_value=0)
    message = forms.CharField(
        label="Note for the state liaison", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ContactAssignForm(Form):
    role = forms.ChoiceField(label="Contact role", choices=ContactAssignment.Role.choices)
    holder = forms.TypedChoiceField(label="Held by", coerce=int)
    phone = forms.CharField(label="Phone for this role", required=False, max_length=40)
    notes = forms.CharField(label="Notes", required=False, max_length=300)


class RoleForm(Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class DecisionForm(Form):
    note = forms.CharField(label="Note (optional)", required=False, max_length=2000)


class ProfileForm(Form):
    website = forms.URLField(label="Website", required=False, assume_scheme="https")
    time_zone = forms.CharField(label="Time zone", max_length=64)


class RegionForm(Form):
    name = forms.CharField(label="Name", max_length=100)
    liaison = forms.TypedChoiceField(label="State liaison", required=False, coerce=int, empty_value=None)


class OrganizationRegionForm(Form):
    region = forms.TypedChoiceField(label="Region", required=False, coerce=int, empty_value=None)
