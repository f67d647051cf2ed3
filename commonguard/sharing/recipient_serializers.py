"""Questions, version history and forwarding in the API. The author's side of a thread and the
editor of a version are given only as labels (`questions.speaker`, `history.versions_for`): never ids
that could name the author of an anonymous alert."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commonguard.orgs.serializers import OrganizationRefSerializer
from commonguard.sharing import indicators as ioc
from commonguard.sharing.forwarding import MAX_NOTE
from commonguard.sharing.models import MAX_QUESTION, Alert, Indicator


class PostSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    who = serializers.CharField(
        help_text="Who wrote it, as you may know it: on an anonymous alert the author's side reads "
        "“The author (a county in Region 3)” to anyone who may not know the author."
    )
    from_author = serializers.BooleanField(help_text="Written by the author's organisation.")
    body = serializers.CharField(help_text="Markdown, as written.")
    body_html = serializers.CharField(help_text="The Markdown rendered and sanitised.")
    created_at = serializers.DateTimeField()


class ThreadSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="question.pk")
    organization = OrganizationRefSerializer(source="question.organization", help_text="The asking organisation.")
    created_at = serializers.DateTimeField(source="question.created_at")
    posts = PostSerializer(many=True, help_text="The question first, then the replies, oldest first.")


class AskSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_QUESTION, help_text="The question (Markdown).")
    organization = serializers.IntegerField(
        required=False,
        help_text="Id of the organisation you ask for: one you are an approved member of, not the author's. "
        "May be left out when you belong to only one such organisation.",
    )


class ReplySerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_QUESTION, help_text="The reply (Markdown).")


class ForwardSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=254, help_text="Whom to send it to.")
    note = serializers.CharField(max_length=MAX_NOTE, required=False, allow_blank=True, default="")


class ForwardedSerializer(serializers.Serializer):
    to = serializers.CharField()
    status = serializers.CharField(help_text="`queued`: the worker sends it, checking the rule again.")


class DiffLineSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["-", "+"], help_text="`-` removed, `+` added.")
    line = serializers.CharField()


class ChangeSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The field: title, summary, tlp, indicators...")
    name = serializers.CharField(source="label", help_text="The field as people read it: “What happened”.")
    before = serializers.CharField(help_text="The old value as shown to people (fields with a single value).")
    after = serializers.CharField()
    lines = serializers.SerializerMethodField(help_text="Texts: the lines removed and added.")
    added = serializers.ListField(child=serializers.CharField(), help_text="Lists: items added (defanged).")
    removed = serializers.ListField(child=serializers.CharField(), help_text="Lists: items removed (defanged).")

    @extend_schema_field(DiffLineSerializer(many=True))
    def get_lines(self, obj: Any) -> list[dict[str, str]]:
        return [{"op": op, "line": line} for op, line in obj.lines]


class VersionIndicatorSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Indicator.Kind.choices)
    value = serializers.CharField()
    defanged = serializers.CharField()


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    by = serializers.CharField(help_text="Who published it, as you may know it (anonymity holds).")
    status = serializers.SerializerMethodField()
    tlp = serializers.SerializerMethodField()
    tlp_label = serializers.CharField()
    content = serializers.SerializerMethodField(help_text="What the version said.")
    compared_with = serializers.IntegerField(
        allow_null=True, help_text="The version `changes` compares with; null when you may not see the one before."
    )
    changes = ChangeSerializer(many=True, allow_null=True)

    def get_status(self, obj: Any) -> str:
        return str(obj.snapshot.get("status", ""))

    def get_tlp(self, obj: Any) -> str:
        return str(obj.snapshot.get("tlp", ""))

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "summary": {"type": "string"},
                "recommended_actions": {"type": "string"},
                "category": {"type": "string", "enum": Alert.Category.values},
                "severity": {"type": "string", "enum": Alert.Severity.values},
                "anonymous": {"type": "boolean"},
                "attack_techniques": {"type": "array", "items": {"type": "string"}},
                "valid_until": {"type": "string", "format": "date-time", "nullable": True},
                "indicators": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "kind": {"type": "string"},
                            "value": {"type": "string"},
                            "defanged": {"type": "string"},
                        },
                    },
                },
            },
        }
    )
    def get_content(self, obj: Any) -> dict[str, Any]:
        s = obj.snapshot
        keys = ("title", "summary", "recommended_actions", "category", "severity", "anonymous", "attack_techniques")
        content = {key: s.get(key) for key in keys}
        content["valid_until"] = s.get("valid_until")
        content["indicators"] = [
            {"kind": kind, "value": value, "defanged": ioc.defang(kind, value)}
            for kind, value in s.get("indicators", [])
        ]
        return content
