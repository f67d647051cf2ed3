"""Forms of the alert pages. They turn what was posted into an `AlertInput` (resolving the audience
through `visible_to`); what an alert may say is decided by the services, which list every problem."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from commonguard.accounts.models import User
from commonguard.core.tlp import GUIDANCE, TLP
from commonguard.orgs.models import Organization
from commonguard.sharing import indicators as ioc
from commonguard.sharing.models import (
    FILTER_SEVERITIES,
    MAX_MARKDOWN,
    MAX_TITLE,
    Alert,
    AlertPreference,
    Indicator,
    SharingGroup,
    Sighting,
    Webhook,
)
from commonguard.sharing.services import AlertInput
from commonguard.web.forms import Form

# "kind: value" names the kind of an indicator the author does not want guessed ("filename: a.pdf.exe").
_KIND_PREFIX = re.compile(r"^\s*(" + "|".join(re.escape(k) for k in Indicator.Kind.values) + r")\s*:\s*(.*)$", re.I)
MAX_RECIPIENT_PEOPLE = 200
MAX_RECIPIENT_ORGS = 500  # (Django refuses a form of over 1,000 fields)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def indicator_line(kind: str, value: str) -> str:
    """How a stored indicator is written back into the textarea: bare when its kind would be
    guessed again, with a "kind:" prefix when it would not (file names, e-mail subjects...)."""
    try:
        guessed = ioc.guess_kind(value)
    except ValidationError:
        guessed = None
    return value if guessed == kind else f"{kind}: {value}"


def parse_indicator_lines(text: str) -> list[tuple[str | None, str]]:
    items: list[tuple[str | None, str]] = []
    for line in _lines(text):
        match = _KIND_PREFIX.match(line)
        items.append((match.group(1).lower(), match.group(2)) if match else (None, line))
    return items


def end_of_day(day: date, tz_name: str) -> datetime:
    """“Valid until” a date means until that day is over where the author's organisation is."""
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        tz = timezone.get_default_timezone()
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


class SharingGroupField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.owner.name})"


class AlertFilterForm(Form):
    category = forms.ChoiceField(
        label="Category", required=False, choices=[("", "Any category"), *Alert.Category.choices]
    )
    severity = forms.ChoiceField(
        label="Severity", required=False, choices=[("", "Any severity"), *Alert.Severity.choices]
    )
    tlp = forms.ChoiceField(label="TLP", required=False, choices=[("", "Any label"), *TLP.choices])


class AlertForm(Form):
    """Compose or edit an alert. `user` is the author (whose organisations, audiences and
    colleagues the choices come from); `published` hides what an update cannot change."""

    title = forms.CharField(
        label="Title",
        max_length=MAX_TITLE,
        error_messages={
            "required": "Give the alert a title.",
            "max_length": "The title is %(show_value)s characters long; keep it to %(limit_value)s.",
        },
    )
    summary = forms.CharField(
        label="What happened",
        max_length=MAX_MARKDOWN,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown: **bold**, lists, links. No HTML.",
        error_messages={
            "required": "Say what happened.",
            "max_length": "This text is %(show_value)s characters long; keep it to %(limit_value)s.",
        },
    )
    recommended_actions = forms.CharField(
        label="What to do",
        required=False,
        max_length=MAX_MARKDOWN,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Markdown. The steps recipients should take.",
        error_messages={"max_length": "This text is %(show_value)s characters long; keep it to %(limit_value)s."},
    )
    category = forms.ChoiceField(
        label="Category",
        choices=[("", "- Select -"), *Alert.Category.choices],
        error_messages={"required": "Choose a category.", "invalid_choice": "Choose a category from the list."},
    )
    severity = forms.ChoiceField(
        label="Severity",
        choices=Alert.Severity.choices,
        initial=Alert.Severity.MEDIUM,
        error_messages={"required": "Choose a severity.", "invalid_choice": "Choose a severity from the list."},
    )
    tlp = forms.ChoiceField(
        label="Traffic Light Protocol label",
        choices=TLP.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose a TLP label: it decides who can read the alert.",
            "invalid_choice": "“%(value)s” is not a TLP label: choose CLEAR, GREEN, AMBER, AMBER+STRICT or RED.",
        },
    )
    author_org = forms.TypedChoiceField(
        label="Published on behalf of",
        coerce=int,
        error_messages={"invalid_choice": "Choose one of your organisations."},
    )
    confirm_benign = forms.BooleanField(
        label="Keep indicators that are on known-benign lists: I confirm they are malicious here",
        required=False,
        help_text="Only needed when the hub warns that an indicator is a private range, a public resolver, "
        "a cloud range or a popular site.",
    )
    anonymous = forms.BooleanField(
        label="Anonymous: peers see only the kind of organisation and its region",
        required=False,
        help_text="Your own organisation, state staff and the hub operator still see who wrote it.",
    )
    known_ransomware_use = forms.BooleanField(
        label="Known ransomware use",
        required=False,
        help_text="Tick when this vulnerability or activity is known to have been used in ransomware campaigns.",
    )
    attack_techniques = forms.CharField(
        label="MITRE ATT&CK techniques (optional)",
        required=False,
        max_length=2000,
        help_text="Comma-separated ids, e.g. T1566.001, T1078",
    )
    valid_until = forms.DateField(
        label="Valid until (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date, e.g. 2026-12-31."},
    )
    # Rendered by hand (sharing/partials/org_choices.html): a search that adds checkboxes.
    recipient_orgs = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    sharing_groups = SharingGroupField(
        queryset=SharingGroup.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose sharing groups from the list."},
    )
    # Federation (ADR 22): the peer hubs a TLP:AMBER alert may go to; shown when peers are configured.
    federation_peers = forms.ModelMultipleChoiceField(
        queryset=SharingGroup.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Choose peer hubs from the list."},
    )
    recipient_people = forms.CharField(
        label="People (TLP:RED)",
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Their e-mail addresses, one per line. Only people you can see in the hub can be named.",
    )
    indicators = forms.CharField(
        label="Indicators",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="One per line, defanged or not (evil[.]example, hxxps://…). The kind is guessed; "
        "write “filename: invoice.pdf.exe” or “email_subject: Overdue invoice” to name it.",
    )
    paste = forms.CharField(
        label="Or paste free text (a report, an e-mail, a log)",
        required=False,
        max_length=ioc.MAX_PASTE,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="The domains, addresses, URLs, hashes and CVEs found in it are added to the indicators.",
        error_messages={"max_length": "The pasted text is over %(limit_value)s characters; split it."},
    )

    def __init__(self, *args: Any, user: User, published: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from commonguard.accounts.viewer import viewer_for

        self.user = user
        self.published = published
        self.my_orgs = list(Organization.objects.visible_to(user).filter(pk__in=viewer_for(user).org_ids))
        author_org = self.fields["author_org"]
        assert isinstance(author_org, forms.TypedChoiceField)
        author_org.choices = [(o.pk, o.name) for o in self.my_orgs]
        if len(self.my_orgs) == 1:
            author_org.initial = self.my_orgs[0].pk
        groups = self.fields["sharing_groups"]
        assert isinstance(groups, forms.ModelMultipleChoiceField)
        groups.queryset = SharingGroup.objects.visible_to(user).select_related("owner")
        groups.widget.attrs["class"] = "usa-checkbox__input"
        self.fields["tlp"].widget.attrs["class"] = "usa-radio__input usa-radio__input--tile"
        from commonguard.federation.models import Peer

        peers = self.fields["federation_peers"]
        assert isinstance(peers, forms.ModelMultipleChoiceField)
        peers.queryset = Peer.objects.filter(enabled=True).order_by("name")
        peers.widget.attrs["class"] = "usa-checkbox__input"
        if published:
            # An update keeps the organisation it was published for.
            author_org.required = False
            author_org.disabled = True

    # --- cleaning: the audience is resolved through visible_to, never by bare ids ---

    def clean_attack_techniques(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["attack_techniques"].split(",") if t.strip()]

    def clean_recipient_orgs(self) -> list[Organization]:
        ids: set[int] = set()
        for value in self.cleaned_data["recipient_orgs"] or []:
            try:
                ids.add(int(value))
            except (TypeError, ValueError):
                raise ValidationError("Choose organisations from the search.") from None
        if len(ids) > MAX_RECIPIENT_ORGS:
            raise ValidationError(f"Name at most {MAX_RECIPIENT_ORGS:,} organisations; use a sharing group.")
        found = list(Organization.objects.visible_to(self.user).approved().filter(pk__in=ids).order_by("sort_name"))
        if len(found) != len(ids):
            raise ValidationError("Some chosen organisations are not approved members of the hub (any more).")
        return found

    def clean_recipient_people(self) -> list[User]:
        addresses = list(dict.fromkeys(a.lower() for a in _lines(self.cleaned_data["recipient_people"])))
        if len(addresses) > MAX_RECIPIENT_PEOPLE:
            raise ValidationError(f"Name at most {MAX_RECIPIENT_PEOPLE} people.")
        if not addresses:
            return []
        query = Q()
        for address in addresses:
            query |= Q(email__iexact=address)
        people = list(User.objects.visible_to(self.user).filter(query))
        known = {p.email.lower() for p in people}
        unknown = [a for a in addresses if a not in known]
        if unknown:
            raise ValidationError(
                "No one you can see in the hub has the address "
                + ", ".join(f"“{a}”" for a in unknown[:10])
                + (f" (and {len(unknown) - 10} more)" if len(unknown) > 10 else "")
                + ". Check the spelling; you can name the people of your own organisations."
            )
        return people

    def clean_indicators(self) -> list[tuple[str | None, str]]:
        items = parse_indicator_lines(self.cleaned_data["indicators"])
        # Checked here too (the service checks again), so that the author sees every bad
        # indicator together with the form's other errors, not after correcting those.
        ioc.parse_many(items)
        return items

    def clean_paste(self) -> list[tuple[str | None, str]]:
        text = self.cleaned_data["paste"]
        if not text.strip():
            return []
        found = ioc.extract(text)  # a ValidationError here becomes this field's error
        return [(p.kind, p.value) for p in found]

    def author_organization(self) -> Organization | None:
        pk = self.cleaned_data.get("author_org")
        return next((o for o in self.my_orgs if o.pk == pk), None)

    def to_input(self, author_org: Organization) -> AlertInput:
        data = self.cleaned_data
        valid_until = data["valid_until"]
        return AlertInput(
            title=data["title"],
            summary=data["summary"],
            recommended_actions=data["recommended_actions"],
            category=data["category"],
            severity=data["severity"],
            tlp=data["tlp"],
            anonymous=data["anonymous"],
            known_ransomware_use=data["known_ransomware_use"],
            attack_techniques=data["attack_techniques"],
            valid_until=end_of_day(valid_until, author_org.time_zone) if valid_until else None,
            recipient_orgs=data["recipient_orgs"],
            sharing_groups=list(data["sharing_groups"]),
            recipient_people=data["recipient_people"],
            indicators=data["indicators"] + data["paste"],
            confirm_benign=data["confirm_benign"],
        )

    # --- rendering helpers ---

    def has_field_errors(self) -> bool:
        return any(name != "__all__" for name in self.errors)

    def tlp_options(self) -> list[tuple[Any, str]]:
        """Each TLP radio button with the guidance shown beside it."""
        return [(radio, GUIDANCE[TLP(radio.data["value"])]) for radio in self["tlp"]]

    def chosen_org_ids(self) -> list[int]:
        """The organisations ticked (posted) or already named (initial), for the org picker."""
        values = self["recipient_orgs"].value() or []
        return [int(v) for v in values if str(v).isdigit()]


def initial_for(alert: Alert) -> dict[str, Any]:
    """The edit form's starting values: what the alert says now."""
    tz_name = alert.author_org.time_zone
    valid_until = None
    if alert.valid_until:
        try:
            valid_until = alert.valid_until.astimezone(ZoneInfo(tz_name)).date()
        except (ZoneInfoNotFoundError, ValueError):
            valid_until = timezone.localtime(alert.valid_until).date()
    return {
        "title": alert.title,
        "summary": alert.summary,
        "recommended_actions": alert.recommended_actions,
        "category": alert.category,
        "severity": alert.severity,
        "tlp": alert.tlp,
        "author_org": alert.author_org_id,
        "anonymous": alert.anonymous,
        "known_ransomware_use": alert.known_ransomware_use,
        "attack_techniques": ", ".join(alert.attack_techniques),
        "valid_until": valid_until,
        "recipient_orgs": list(alert.recipient_orgs.values_list("pk", flat=True)),
        "sharing_groups": list(alert.sharing_groups.values_list("pk", flat=True)),
        "federation_peers": list(alert.federation_peers.values_list("peer_id", flat=True)),
        "recipient_people": "\n".join(alert.recipient_people.values_list("email", flat=True)),
        "indicators": "\n".join(indicator_line(i.kind, i.value) for i in alert.indicators.all()),
    }


class RevokeForm(Form):
    reason = forms.CharField(
        label="Why is it revoked?",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recipients read this, e.g. “The domain is a sinkhole, not the attacker’s.”",
        error_messages={"required": "Say why the alert is revoked: recipients will read it."},
    )


class DeleteForm(Form):
    reason = forms.CharField(
        label="Why is it deleted? (optional)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the audit trail and with the tombstone on this hub; recipients do not see it.",
    )


class PreviewForm(Form):
    summary = forms.CharField(required=False, strip=False, max_length=MAX_MARKDOWN)
    recommended_actions = forms.CharField(required=False, strip=False, max_length=MAX_MARKDOWN)


class AcknowledgeForm(Form):
    organization = forms.TypedChoiceField(label="For", coerce=int)
    note = forms.CharField(label="Note for the author (optional)", required=False, max_length=500)


class SightingForm(Form):
    organization = forms.TypedChoiceField(label="Where", coerce=int)
    kind = forms.ChoiceField(label="What did you find?", choices=Sighting.Kind.choices)
    indicator = forms.TypedChoiceField(label="Which indicator (optional)", coerce=int, required=False, empty_value=None)
    seen_at = forms.DateTimeField(
        label="When (optional; now if empty)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    count = forms.IntegerField(label="How many times", min_value=1, max_value=1_000_000_000, initial=1)
    note = forms.CharField(label="Note (optional)", required=False, max_length=500)


FILTER_SEVERITY_CHOICES = [(s, Alert.Severity(s).label) for s in FILTER_SEVERITIES]


class PreferencesForm(Form):
    email = forms.BooleanField(label="Send me alerts by e-mail", required=False)
    email_mode = forms.ChoiceField(
        label="When",
        choices=AlertPreference.Mode.choices,
        widget=forms.RadioSelect,
        help_text="Critical (flash) alerts always come at once.",
    )
    browser_notifications = forms.BooleanField(
        label="Pop up new alerts in my browser while CommonGuard is open", required=False
    )
    categories = forms.MultipleChoiceField(
        label="Only these categories",
        choices=Alert.Category.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every category. Critical alerts come whatever you tick.",
    )
    min_severity = forms.ChoiceField(label="From this severity up", choices=FILTER_SEVERITY_CHOICES)


class WebhookForm(Form):
    name = forms.CharField(label="Name", max_length=120, help_text="For you: “SOC SIEM”, “#security in Slack”.")
    url = forms.URLField(
        label="Address", max_length=500, assume_scheme="https", help_text="A public https:// endpoint."
    )
    preset = forms.ChoiceField(label="Format", choices=Webhook.Preset.choices)
    max_tlp = forms.ChoiceField(
        label="Most restricted label it may receive",
        choices=[(t.value, t.label) for t in TLP if t != TLP.RED],
        help_text="Choose AMBER only if everyone who reads that endpoint may read AMBER alerts. "
        "TLP:RED never goes to a webhook.",
    )
    categories = forms.MultipleChoiceField(
        label="Only these categories",
        choices=Alert.Category.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every category.",
    )
    min_severity = forms.ChoiceField(label="From this severity up", choices=FILTER_SEVERITY_CHOICES)
    active = forms.BooleanField(label="Active", required=False, initial=True)
