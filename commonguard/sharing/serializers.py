"""Alerts, indicators and sharing groups in the API.

What a caller may know about an alert's author and audience is decided here from the services'
rules (`author_label`, `can_edit_alert`) and the people read rule; the serializers never widen it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commonguard.core.tlp import TLP, parse_tlp
from commonguard.orgs.serializers import OrganizationRefSerializer, PersonRefSerializer
from commonguard.sharing import indicators as ioc
from commonguard.sharing.group_services import MAX_GROUP_DESCRIPTION, MAX_GROUP_NAME, MAX_GROUP_ORGANIZATIONS
from commonguard.sharing.models import MAX_INDICATORS, MAX_MARKDOWN, MAX_TITLE, Alert, Indicator, SharingGroup
from commonguard.sharing.services import author_label, can_edit_alert

MAX_RECIPIENT_ORGS = 5_000
MAX_RECIPIENT_GROUPS = 200
MAX_RECIPIENT_PEOPLE = 1_000
MAX_TECHNIQUES = 100


class BoundedListField(serializers.ListField):
    """A list with a maximum length that is checked before a single item is validated, so an
    oversized request is refused at once, with a sentence saying what to do."""

    def __init__(self, *, too_long: str, **kwargs: Any) -> None:
        self.too_long = too_long
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            raise serializers.ValidationError(self.too_long.format(max=self.max_length, count=len(data)))
        return super().to_internal_value(data)


def _id_list(what: str, maximum: int, help_text: str) -> BoundedListField:
    return BoundedListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=maximum,
        too_long=f"At most {{max:,}} {what} (this request has {{count:,}}).",
        help_text=help_text,
    )


# --- Reading ---------------------------------------------------------------------------------


class SharingGroupRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = SharingGroup
        fields = ["id", "name"]
        read_only_fields = fields


class IndicatorSerializer(serializers.ModelSerializer):
    defanged = serializers.SerializerMethodField(help_text="A form no mail client or browser turns into a link.")

    class Meta:
        model = Indicator
        fields = ["kind", "value", "defanged", "comment", "warning"]
        read_only_fields = fields

    def get_defanged(self, obj: Indicator) -> str:
        return ioc.defang(obj.kind, obj.value)


class AlertRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = ["uuid", "title", "tlp", "status", "published_at"]
        read_only_fields = fields


class IndicatorListSerializer(IndicatorSerializer):
    alert = AlertRefSerializer(read_only=True)

    class Meta(IndicatorSerializer.Meta):
        fields = ["id", "alert", *IndicatorSerializer.Meta.fields]
        read_only_fields = fields


class AudienceSerializer(serializers.Serializer):
    recipient_orgs = OrganizationRefSerializer(many=True, read_only=True)
    sharing_groups = SharingGroupRefSerializer(many=True, read_only=True)
    recipient_people = PersonRefSerializer(many=True, read_only=True)


def knows_author(alert: Alert, user: Any) -> bool:
    """Whether `user` may know who wrote `alert`: exactly when `author_label` names the organisation
    for them rather than the anonymous description everyone else gets."""
    return not alert.anonymous or author_label(alert, user) != author_label(alert, None)


class AlertSerializer(serializers.ModelSerializer):
    """An alert as the caller may know it."""

    # Context: `request`, and `people`: the ids of the people among authors and recipients whom
    # the caller may read (`User.objects.visible_to`); other people are never shown.
    tlp_label = serializers.CharField(source="get_tlp_display", read_only=True)
    author = serializers.SerializerMethodField(
        help_text="The author's organisation, or for an anonymous alert only its kind and region "
        "(“A county in Region 3”) unless you are of that organisation, state staff or the operator."
    )
    author_organization = serializers.SerializerMethodField(
        help_text="Null when the alert is anonymous and you may not know who wrote it."
    )
    author_person = serializers.SerializerMethodField(
        help_text="The person who wrote it, when you may know the organisation and may read that person."
    )
    audience = serializers.SerializerMethodField(
        help_text="Whom the alert is addressed to: shown only to those who can change the alert."
    )
    can_edit = serializers.SerializerMethodField()
    attack_techniques = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="MITRE ATT&CK technique ids, e.g. T1566.001."
    )
    indicator_count = serializers.IntegerField(read_only=True)
    known_ransomware_use = serializers.BooleanField(
        read_only=True, help_text="Known to have been used in ransomware campaigns (for KEV imports: CISA's flag)."
    )
    source_key = serializers.CharField(
        read_only=True,
        help_text="Where an imported alert came from, e.g. `kev:CVE-2024-3400`; empty for alerts people wrote.",
    )

    class Meta:
        model = Alert
        fields = [
            "uuid",
            "title",
            "summary",
            "recommended_actions",
            "category",
            "severity",
            "tlp",
            "tlp_label",
            "status",
            "version",
            "author",
            "author_organization",
            "author_person",
            "anonymous",
            "attack_techniques",
            "valid_until",
            "known_ransomware_use",
            "source_key",
            "audience",
            "indicator_count",
            "can_edit",
            "created_at",
            "modified_at",
            "published_at",
            "revoked_at",
            "revocation_reason",
        ]
        read_only_fields = fields

    def _user(self) -> Any:
        request = self.context.get("request")
        return getattr(request, "user", None)

    def get_author(self, obj: Alert) -> str:
        return author_label(obj, self._user())

    @extend_schema_field(OrganizationRefSerializer(allow_null=True))
    def get_author_organization(self, obj: Alert) -> Any:
        if not knows_author(obj, self._user()):
            return None
        return OrganizationRefSerializer(obj.author_org).data

    @extend_schema_field(PersonRefSerializer(allow_null=True))
    def get_author_person(self, obj: Alert) -> Any:
        if not knows_author(obj, self._user()) or obj.author_id not in self.context.get("people", ()):
            return None
        return PersonRefSerializer(obj.author).data

    @extend_schema_field(AudienceSerializer(allow_null=True))
    def get_audience(self, obj: Alert) -> Any:
        if not can_edit_alert(self._user(), obj):
            return None
        people = self.context.get("people", ())
        return {
            "recipient_orgs": OrganizationRefSerializer(obj.recipient_orgs.all(), many=True).data,
            "sharing_groups": SharingGroupRefSerializer(obj.sharing_groups.all(), many=True).data,
            "recipient_people": PersonRefSerializer(
                [p for p in obj.recipient_people.all() if p.pk in people], many=True
            ).data,
        }

    def get_can_edit(self, obj: Alert) -> bool:
        return can_edit_alert(self._user(), obj)


class AlertDetailSerializer(AlertSerializer):
    indicators = IndicatorSerializer(many=True, read_only=True)

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "indicators"]
        read_only_fields = fields


class SharingGroupSerializer(serializers.ModelSerializer):
    owner = OrganizationRefSerializer(read_only=True)
    organizations = OrganizationRefSerializer(many=True, read_only=True)

    class Meta:
        model = SharingGroup
        fields = ["id", "name", "description", "owner", "organizations", "created_at"]
        read_only_fields = fields


# --- Writing ---------------------------------------------------------------------------------


class IndicatorInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=Indicator.Kind.choices,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Leave out to let the hub tell the kind from the value.",
    )
    value = serializers.CharField(
        max_length=2048, trim_whitespace=False, help_text="As typed or pasted; defanged forms are accepted."
    )


class AlertWriteSerializer(serializers.Serializer):
    """Create a draft (POST) or change an alert (PATCH: only the fields given change)."""

    author_org = serializers.IntegerField(
        help_text="Id of the organisation the alert is written for: one you are an approved member of."
    )
    title = serializers.CharField(max_length=MAX_TITLE)
    summary = serializers.CharField(
        max_length=MAX_MARKDOWN, trim_whitespace=False, help_text="What happened (Markdown)."
    )
    recommended_actions = serializers.CharField(
        max_length=MAX_MARKDOWN,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="What to do (Markdown).",
    )
    category = serializers.ChoiceField(choices=Alert.Category.choices)
    severity = serializers.ChoiceField(choices=Alert.Severity.choices, required=False)
    tlp = serializers.CharField(
        max_length=32,
        help_text="TLP 2.0 label, case-insensitive, with or without the `TLP:` prefix: "
        "CLEAR, GREEN, AMBER, AMBER+STRICT or RED (TLP 1.0 WHITE is read as CLEAR).",
    )
    anonymous = serializers.BooleanField(
        required=False, help_text="Peers see only the kind and region of the author's organisation."
    )
    attack_techniques = BoundedListField(
        child=serializers.CharField(max_length=20),
        required=False,
        max_length=MAX_TECHNIQUES,
        too_long="At most {max:,} ATT&CK techniques (this request has {count:,}).",
        help_text="MITRE ATT&CK technique ids, e.g. T1566 or T1566.001.",
    )
    valid_until = serializers.DateTimeField(required=False, allow_null=True)
    known_ransomware_use = serializers.BooleanField(
        required=False, help_text="Known to have been used in ransomware campaigns."
    )
    recipient_orgs = _id_list(
        "organisations", MAX_RECIPIENT_ORGS, "AMBER / AMBER+STRICT: ids of the organisations it goes to."
    )
    sharing_groups = _id_list(
        "sharing groups", MAX_RECIPIENT_GROUPS, "AMBER / AMBER+STRICT: ids of the sharing groups it goes to."
    )
    recipient_people = _id_list("people", MAX_RECIPIENT_PEOPLE, "RED: ids of the people it goes to.")
    indicators = BoundedListField(
        child=IndicatorInputSerializer(),
        required=False,
        max_length=MAX_INDICATORS,
        too_long="An alert holds at most {max:,} indicators and this request has {count:,}: split larger sets "
        "into several alerts or import them as a feed. Nothing was saved.",
        help_text=f"At most {MAX_INDICATORS:,}. Replaces the alert's indicators when given.",
    )
    text = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=ioc.MAX_PASTE,
        help_text="Free text (a report, an e-mail) to find indicators in; what is found is added to "
        "`indicators` (or, when `indicators` is left out of a PATCH, to the alert's current ones).",
    )
    confirm_benign = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Keep indicators that appear on known-benign warning lists (private ranges, public resolvers, "
        "cloud ranges, popular sites). Without it such indicators are refused with the list named.",
    )

    def validate_tlp(self, value: str) -> TLP:
        try:
            return parse_tlp(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class RevokeSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, allow_blank=True, default="", help_text="Why: every recipient reads it."
    )


class SharingGroupWriteSerializer(serializers.Serializer):
    owner = serializers.IntegerField(help_text="Id of the organisation that keeps the group: one you administer.")
    name = serializers.CharField(max_length=MAX_GROUP_NAME)
    description = serializers.CharField(max_length=MAX_GROUP_DESCRIPTION, required=False, allow_blank=True)
    organizations = _id_list("organisations", MAX_GROUP_ORGANIZATIONS, "Ids of the member organisations.")


# --- Query parameters ------------------------------------------------------------------------


class AlertFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Alert.Status.choices, required=False)
    tlp = serializers.CharField(required=False, max_length=32)
    category = serializers.ChoiceField(choices=Alert.Category.choices, required=False)
    severity = serializers.ChoiceField(choices=Alert.Severity.choices, required=False)
    since = serializers.DateTimeField(required=False)
    modified_since = serializers.DateTimeField(required=False)

    def validate_tlp(self, value: str) -> TLP:
        try:
            return parse_tlp(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class IndicatorFilterSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Indicator.Kind.choices, required=False)
    value = serializers.CharField(required=False, max_length=2048, trim_whitespace=False)
    alert = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=Alert.Status.choices, required=False)
