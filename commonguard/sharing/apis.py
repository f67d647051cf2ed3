"""Threat-sharing API: alerts, their indicators, sharing groups.

Reads go through `visible_to` (a hidden alert is the same 404 as one that does not exist); every
id in a request body is looked up through the read rule of its model, so an id the caller may not
see is an "unknown id", never a hint; writes go through the services."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from commonguard.accounts.models import User
from commonguard.api.serialization import validated
from commonguard.orgs.apis import _int_param
from commonguard.orgs.models import Organization
from commonguard.sharing import group_services, services
from commonguard.sharing import indicators as ioc
from commonguard.sharing.campaign import campaign_for_alert, campaign_statewide
from commonguard.sharing.campaign_serializers import CampaignFilterSerializer, CampaignSerializer
from commonguard.sharing.models import Alert, Indicator, SharingGroup
from commonguard.sharing.serializers import (
    AlertDetailSerializer,
    AlertFilterSerializer,
    AlertSerializer,
    AlertWriteSerializer,
    IndicatorFilterSerializer,
    IndicatorListSerializer,
    RevokeSerializer,
    SharingGroupSerializer,
    SharingGroupWriteSerializer,
)
from commonguard.web.http import acting_user

EDIT_DENIED = "Only the author or an admin of the author's organisation can change this alert."
DELETE_DENIED = "Only the author or an admin of the author's organisation can delete this alert."


def _query(serializer_class: Any, request: Request) -> dict[str, Any]:
    """Validated query parameters (a malformed filter is a 400, not a silently empty list)."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class _Resolver:
    """Turns ids from a request body into objects the caller may see, collecting one
    "unknown id" error per field; ids of hidden objects read exactly like ids that do not exist."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def many(self, queryset: QuerySet[Any], ids: Iterable[int], field: str) -> list[Any]:
        wanted = list(dict.fromkeys(ids))
        found = {obj.pk: obj for obj in queryset.filter(pk__in=wanted)} if wanted else {}
        missing = [str(pk) for pk in wanted if pk not in found]
        if missing:
            shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
            self.errors.setdefault(field, []).append(f"Unknown id{'s' if len(missing) > 1 else ''}: {shown}.")
        return [found[pk] for pk in wanted if pk in found]

    def one(self, queryset: QuerySet[Any], pk: int, field: str) -> Any:
        found = self.many(queryset, [pk], field)
        return found[0] if found else None

    def check(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _uuid_or_404(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404 from None


# --- Alerts ----------------------------------------------------------------------------------


ALERT_FILTERS = [
    OpenApiParameter("status", str, enum=Alert.Status.values),
    OpenApiParameter(
        "tlp", str, description="A TLP label, case-insensitive, with or without `TLP:` (e.g. `amber+strict`)."
    ),
    OpenApiParameter("category", str, enum=Alert.Category.values),
    OpenApiParameter("severity", str, enum=Alert.Severity.values),
    OpenApiParameter(
        "since", OpenApiTypes.DATETIME, description="ISO 8601 date-time: alerts published at or after it."
    ),
    OpenApiParameter(
        "modified_since",
        OpenApiTypes.DATETIME,
        description="ISO 8601 date-time: alerts changed at or after it (catches updates and revocations).",
    ),
]


@extend_schema(tags=["alerts"])
class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Threat alerts. Drafts are seen only by their author; published alerts by their TLP audience."""

    serializer_class = AlertSerializer
    lookup_field = "uuid"

    def get_serializer_class(self) -> Any:
        return AlertSerializer if self.action == "list" else AlertDetailSerializer

    def get_queryset(self) -> Any:
        qs = (
            Alert.objects.visible_to(self.request.user)
            .select_related("author_org__region", "author")
            .annotate(indicator_count=Count("indicators"))
            .order_by(Coalesce("published_at", "created_at").desc(), "-id")
        )
        if self.action != "list":
            qs = qs.prefetch_related("recipient_orgs", "sharing_groups", "recipient_people", "indicators")
        else:
            qs = qs.prefetch_related("recipient_orgs", "sharing_groups", "recipient_people")
        return qs

    def get_object(self) -> Alert:
        key = _uuid_or_404(self.kwargs[self.lookup_field])
        try:
            return self.get_queryset().get(uuid=key)  # type: ignore[no-any-return]
        except Alert.DoesNotExist:
            raise Http404 from None

    def _data(self, alerts: Any, *, many: bool = False) -> Any:
        rows = list(alerts) if many else [alerts]
        user_ids = {a.author_id for a in rows} | {p.pk for a in rows for p in a.recipient_people.all()}
        people = set(User.objects.visible_to(self.request.user).filter(pk__in=user_ids).values_list("pk", flat=True))
        serializer = self.get_serializer_class()(alerts, many=many, context={"request": self.request, "people": people})
        return serializer.data

    def _answer(self, alert: Alert, code: int = status.HTTP_200_OK) -> Response:
        """The alert after a write, read again through the read rule. An admin who readdresses a
        colleague's alert to people other than themselves (RED) may no longer read it: 204."""
        fresh = self.get_queryset().filter(pk=alert.pk).first()
        if fresh is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(self._data(fresh), status=code)

    @extend_schema(parameters=ALERT_FILTERS)
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Alerts you may read, newest first (by publication, drafts by creation)."""
        f = _query(AlertFilterSerializer, request)
        qs = self.get_queryset()
        for name in ("status", "tlp", "category", "severity"):
            if name in f:
                qs = qs.filter(**{name: f[name]})
        if "since" in f:
            qs = qs.filter(published_at__gte=f["since"])
        if "modified_since" in f:
            qs = qs.filter(modified_at__gte=f["modified_since"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self._data(page if page is not None else qs, many=True))

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One alert with its indicators."""
        return Response(self._data(self.get_object()))

    @extend_schema(request=AlertWriteSerializer, responses={201: AlertDetailSerializer})
    def create(self, request: Request) -> Response:
        """Write a draft. Only you see it until you publish it. Indicators come from `indicators`
        and from whatever is found in `text`; all are validated, and one error lists every problem."""
        data = validated(AlertWriteSerializer, request.data)
        user = acting_user(request)
        resolver = _Resolver()
        author_org = resolver.one(Organization.objects.visible_to(user), data["author_org"], "author_org")
        alert_input = _alert_input(user, data, resolver, current=None)
        resolver.check()
        alert = services.alert_save_draft(actor=user, author_org=author_org, data=alert_input)
        return self._answer(alert, status.HTTP_201_CREATED)

    @extend_schema(
        request=AlertWriteSerializer,
        responses={
            200: AlertDetailSerializer,
            204: OpenApiResponse(
                description="Changed, but you may no longer read it (an admin who readdressed a colleague's "
                "alert to other people)."
            ),
        },
        description=(
            "Change an alert; only the fields given change. A **draft** is simply saved again (it stays a "
            "draft, version 0). A **published or updated** alert becomes a new version: its status becomes "
            "`updated`, `version` goes up by one and each version is kept in the alert's history; "
            "`author_org` cannot change once published. A revoked "
            "alert cannot be changed. Only the author, or an admin of the author's organisation, may change "
            "an alert (403 for others who can read it)."
        ),
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = self.get_object()
        user = acting_user(request)
        if not services.can_edit_alert(user, alert):
            raise PermissionDenied(EDIT_DENIED)
        serializer = AlertWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        resolver = _Resolver()
        author_org = alert.author_org
        if "author_org" in data and data["author_org"] != alert.author_org_id:
            if alert.status != Alert.Status.DRAFT:
                raise ValidationError({"author_org": "The organisation of a published alert cannot change."})
            author_org = resolver.one(Organization.objects.visible_to(user), data["author_org"], "author_org")
        alert_input = _alert_input(user, data, resolver, current=alert)
        resolver.check()
        if alert.status == Alert.Status.DRAFT:
            alert = services.alert_save_draft(actor=user, author_org=author_org, data=alert_input, alert=alert)
        else:
            alert = services.alert_update(actor=user, alert=alert, data=alert_input)
        return self._answer(alert)

    @extend_schema(
        request=None,
        parameters=[OpenApiParameter("reason", str, description="Why (optional): kept in the audit trail.")],
        responses={204: OpenApiResponse(description="Deleted.")},
        description=(
            "Delete an alert: it is gone from this hub (page, API, TAXII, MISP feed answer as for an alert "
            "that never existed) and a tombstone goes to every peer hub that was sent it. Copies delivered by "
            "e-mail, webhook or TAXII cannot be recalled: to correct a published alert, revoke it. Only the "
            "author, or an admin of the author's organisation, may delete (403 for others who can read it); "
            "an alert received from a peer hub is deleted by its origin only."
        ),
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from commonguard.federation.selectors import is_received
        from commonguard.federation.services import alert_delete

        alert = self.get_object()
        user = acting_user(request)
        if not services.can_edit_alert(user, alert) or is_received(alert):
            raise PermissionDenied(DELETE_DENIED)
        reason = str(request.query_params.get("reason", ""))
        if len(reason) > 500:
            raise ValidationError({"reason": "At most 500 characters."})
        alert_delete(actor=user, alert=alert, reason=reason)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses=AlertDetailSerializer,
        description="Publish a draft to its audience (version 1). AMBER needs named organisations or "
        "sharing groups; RED needs named people.",
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = self.get_object()
        return self._answer(services.alert_publish(actor=acting_user(request), alert=alert))

    @extend_schema(
        request=RevokeSerializer,
        responses=AlertDetailSerializer,
        description="Withdraw a published alert, saying why. Recipients keep seeing it, marked revoked.",
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = self.get_object()
        reason = validated(RevokeSerializer, request.data)["reason"]
        return self._answer(services.alert_revoke(actor=acting_user(request), alert=alert, reason=reason))

    @extend_schema(
        operation_id="alerts_campaign",
        responses=CampaignSerializer,
        description="Where the alert's activity was seen: sightings by the county of the reporting organisation. "
        "Every reader of the alert gets the counts; which organisations reported is named only to the reporting "
        "organisation, the author's organisation and the state's staff (for an anonymous alert: the state's staff "
        "and each organisation for itself). For anyone else a county is shown only where enough organisations "
        "could have reported; the rest is counted in `not_mapped`.",
    )
    @action(detail=True, methods=["get"])
    def campaign(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = _uuid_or_404(self.kwargs[self.lookup_field])
        try:
            found = campaign_for_alert(user=request.user, uuid=key)
        except Alert.DoesNotExist:
            raise Http404 from None
        return Response(found.as_json())

    @extend_schema(
        operation_id="alerts_campaign_statewide",
        parameters=[CampaignFilterSerializer],
        responses=CampaignSerializer,
        description="The campaign map of every alert you may read: the sightings of the last `days` days "
        "(default 30, at most 365) by county, under the same rule as one alert's.",
    )
    @action(detail=False, methods=["get"], url_path="campaign")
    def statewide_campaign(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        days = _query(CampaignFilterSerializer, request)["days"]
        return Response(campaign_statewide(user=request.user, days=days).as_json())


def _alert_input(
    user: User, data: dict[str, Any], resolver: _Resolver, *, current: Alert | None
) -> services.AlertInput:
    """The service's input: the request's fields over the alert's current ones (for a PATCH), ids
    resolved through the read rules, indicators from the list and from the free text."""

    def pick(name: str, default: Any) -> Any:
        if name in data:
            return data[name]
        return getattr(current, name) if current is not None else default

    def audience(name: str, queryset: QuerySet[Any]) -> list[Any]:
        if name in data:
            return resolver.many(queryset, data[name], name)
        return list(getattr(current, name).all()) if current is not None else []

    if "indicators" in data or current is None:
        items: list[tuple[str | None, str]] = [(i.get("kind") or None, i["value"]) for i in data.get("indicators", [])]
    else:
        items = [(i.kind, i.value) for i in current.indicators.all()]
    if data.get("text"):
        try:
            items += [(p.kind, p.value) for p in ioc.extract(data["text"])]
        except ValidationError as exc:
            resolver.errors.setdefault("text", []).extend(exc.messages)
    return services.AlertInput(
        title=pick("title", ""),
        summary=pick("summary", ""),
        recommended_actions=pick("recommended_actions", ""),
        category=pick("category", ""),
        severity=pick("severity", Alert.Severity.MEDIUM),
        tlp=pick("tlp", ""),
        anonymous=pick("anonymous", False),
        attack_techniques=list(pick("attack_techniques", [])),
        valid_until=pick("valid_until", None),
        known_ransomware_use=pick("known_ransomware_use", False),
        recipient_orgs=audience("recipient_orgs", Organization.objects.visible_to(user)),
        sharing_groups=audience("sharing_groups", SharingGroup.objects.visible_to(user)),
        recipient_people=audience("recipient_people", User.objects.visible_to(user)),
        indicators=items,
        confirm_benign=bool(data.get("confirm_benign", False)),
    )


# --- Indicators ------------------------------------------------------------------------------


@extend_schema(tags=["alerts"])
class IndicatorViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Indicators of the alerts you may read (they follow their alert's rule). Values are the
    normalised form, for machines; `defanged` is the form for people."""

    serializer_class = IndicatorListSerializer

    def get_queryset(self) -> Any:
        return Indicator.objects.visible_to(self.request.user).select_related("alert").order_by("-id")

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=Indicator.Kind.values),
            OpenApiParameter(
                "value", str, description="Exact value; a defanged or differently cased form is normalised first."
            ),
            OpenApiParameter("alert", OpenApiTypes.UUID, description="UUID of an alert."),
            OpenApiParameter("status", str, enum=Alert.Status.values, description="Status of the alert."),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        f = _query(IndicatorFilterSerializer, request)
        qs = self.get_queryset()
        if "kind" in f:
            qs = qs.filter(kind=f["kind"])
        if "value" in f:
            qs = qs.filter(value__in=_value_forms(f.get("kind"), f["value"]))
        if "alert" in f:
            qs = qs.filter(alert__uuid=f["alert"])
        if "status" in f:
            qs = qs.filter(alert__status=f["status"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.get_serializer(page if page is not None else qs, many=True).data)


def _value_forms(kind: str | None, value: str) -> set[str]:
    """The value as given, and its normalised form when it parses (so `evil[.]com` finds `evil.com`)."""
    forms = {value}
    with contextlib.suppress(ValidationError):
        forms.add(ioc.parse(kind, value).value)
    return forms


# --- Sharing groups --------------------------------------------------------------------------


@extend_schema(tags=["alerts"])
class SharingGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Named lists of organisations that AMBER alerts can be addressed to. Known to every vetted
    member; kept by the admins of the organisation that owns each group."""

    serializer_class = SharingGroupSerializer

    def get_queryset(self) -> Any:
        return (
            SharingGroup.objects.visible_to(self.request.user)
            .select_related("owner")
            .prefetch_related("organizations")
            .order_by("name", "id")
        )

    def _answer(self, group: SharingGroup, code: int = status.HTTP_200_OK) -> Response:
        return Response(SharingGroupSerializer(self.get_queryset().get(pk=group.pk)).data, status=code)

    @extend_schema(parameters=[OpenApiParameter("owner", int, description="Id of the owning organisation.")])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        qs = self.get_queryset()
        if owner := _int_param(request, "owner"):
            qs = qs.filter(owner_id=owner)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.get_serializer(page if page is not None else qs, many=True).data)

    @extend_schema(request=SharingGroupWriteSerializer, responses={201: SharingGroupSerializer})
    def create(self, request: Request) -> Response:
        """Create a group for an organisation you administer."""
        data = validated(SharingGroupWriteSerializer, request.data)
        user = acting_user(request)
        resolver = _Resolver()
        owner = resolver.one(Organization.objects.visible_to(user), data["owner"], "owner")
        orgs = resolver.many(Organization.objects.visible_to(user), data.get("organizations", []), "organizations")
        resolver.check()
        group = group_services.sharing_group_create(
            actor=user, owner=owner, name=data["name"], description=data.get("description", ""), organizations=orgs
        )
        return self._answer(group, status.HTTP_201_CREATED)

    @extend_schema(
        request=SharingGroupWriteSerializer,
        responses=SharingGroupSerializer,
        description="Rename a group or change its organisations (only the fields given change; `organizations` "
        "replaces the list). Admins of the owner only. The AMBER alerts already addressed to the group "
        "follow it: organisations added can read them, organisations removed no longer can.",
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        group = self.get_object()
        user = acting_user(request)
        group_services.check_can_manage_sharing_group(user, group.owner)
        serializer = SharingGroupWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "owner" in data and data["owner"] != group.owner_id:
            raise ValidationError({"owner": "The owner of a sharing group cannot change."})
        resolver = _Resolver()
        orgs = None
        if "organizations" in data:
            orgs = resolver.many(Organization.objects.visible_to(user), data["organizations"], "organizations")
        resolver.check()
        group = group_services.sharing_group_update(
            actor=user, group=group, name=data.get("name"), description=data.get("description"), organizations=orgs
        )
        return self._answer(group)
