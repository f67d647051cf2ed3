"""Read-only API of partnerships: `/api/v1/library/` (search and filters as on the page, e.g.
`?csf=PR.AA` for the posture improvement plan) and `/api/v1/grant-programs/` (with the pass-through
figures). Everything reads through `visible_to`; a hidden resource is a 404 like a missing one."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from commonguard.partnerships import selectors
from commonguard.partnerships.models import GrantProgram, Resource


class ResourceSerializer(serializers.ModelSerializer):
    author_org = serializers.CharField(source="author_org.name")
    tags: serializers.SlugRelatedField = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    csf_categories = serializers.ListField(source="csf_category_list", child=serializers.CharField())
    used_by = serializers.IntegerField(source="use_count")
    download_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    class Meta:
        model = Resource
        fields = [
            "id",
            "title",
            "kind",
            "summary",
            "tlp",
            "author_org",
            "tags",
            "csf_categories",
            "used_by",
            "url",
            "file_name",
            "content_type",
            "file_size",
            "download_url",
            "page_url",
            "created_at",
        ]

    def get_download_url(self, obj: Resource) -> str | None:
        return reverse("partnerships:resource-download", args=[obj.pk]) if obj.file else None

    def get_page_url(self, obj: Resource) -> str:
        return reverse("partnerships:resource", args=[obj.pk])


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Words to search for"),
            OpenApiParameter("kind", str, enum=Resource.Kind.values),
            OpenApiParameter("tag", str),
            OpenApiParameter("csf", str, description="A NIST CSF 2.0 category code, e.g. PR.AA"),
        ]
    )
)
class ResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Library resources the caller may read (the TLP table of alerts)."""

    serializer_class = ResourceSerializer

    def get_queryset(self) -> Any:
        params = self.request.query_params
        return selectors.resource_search(
            user=self.request.user,
            query=params.get("q", ""),
            kind=params.get("kind", ""),
            tag=params.get("tag", ""),
            csf_category=params.get("csf", ""),
        ).prefetch_related("tags")


class GrantProgramSerializer(serializers.ModelSerializer):
    administrator = serializers.CharField(source="administrator.name")
    pass_through = serializers.SerializerMethodField()

    class Meta:
        model = GrantProgram
        fields = [
            "id",
            "name",
            "state",
            "fiscal_year",
            "federal_award",
            "cost_share_rate",
            "administrator",
            "pass_through",
        ]

    def get_pass_through(self, obj: GrantProgram) -> dict[str, Any]:
        checks = self.context.get("pass_through") or {}
        check = checks.get(obj.pk) or selectors.pass_through(obj, user=self.context["request"].user)
        return {
            "local_total": str(check.local_total),
            "local_percent": str(check.local_percent),
            "local_minimum_percent": str(obj.local_share_minimum),
            "local_ok": check.local_ok,
            "rural_total": str(check.rural_total),
            "rural_percent": str(check.rural_percent),
            "rural_minimum_percent": str(obj.rural_share_minimum),
            "rural_population_limit": obj.rural_population_limit,
            "rural_ok": check.rural_ok,
            "committed_sub_awards": check.committed_count,
        }


class GrantProgramViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Grant programmes and their pass-through totals (who got what is on the page, for those who may see it)."""

    serializer_class = GrantProgramSerializer

    def get_queryset(self) -> Any:
        return GrantProgram.objects.visible_to(self.request.user).select_related("administrator")

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        # A list's pass-through checks in two queries for the whole page, not two per programme.
        if args and isinstance(args[0], list | tuple):
            context = self.get_serializer_context()
            context["pass_through"] = selectors.pass_through_many(list(args[0]), user=self.request.user)
            kwargs["context"] = context
        return super().get_serializer(*args, **kwargs)
