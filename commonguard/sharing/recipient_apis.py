"""The API of what a recipient does with an alert beyond reading it, nested under the alert:

- `/api/v1/alerts/<uuid>/questions/`: the question threads you may read; ask; reply;
- `/api/v1/alerts/<uuid>/versions/`: the versions you may see, with what changed;
- `/api/v1/alerts/<uuid>/forward/`: forward the alert by e-mail, within what its label permits.

An alert you may not read, or a thread you may not read, is the same 404 as one that does not exist."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from commonguard.api.serialization import validated
from commonguard.sharing import forwarding, history, questions
from commonguard.sharing.apis import _uuid_or_404
from commonguard.sharing.models import Alert, Question
from commonguard.sharing.recipient_serializers import (
    AskSerializer,
    ForwardedSerializer,
    ForwardSerializer,
    ReplySerializer,
    ThreadSerializer,
    VersionSerializer,
)
from commonguard.web.http import acting_user

ALERT_UUID = OpenApiParameter("alert_uuid", str, OpenApiParameter.PATH, description="UUID of the alert.")


class _UnderAlert(viewsets.GenericViewSet):
    pagination_class = None

    def alert(self) -> Alert:
        key = _uuid_or_404(self.kwargs["alert_uuid"])
        found = Alert.objects.visible_to(self.request.user).select_related("author_org__region").filter(uuid=key)
        alert = found.first()
        if alert is None:
            raise Http404
        return alert


@extend_schema(tags=["alerts"], parameters=[ALERT_UUID])
class QuestionViewSet(_UnderAlert):
    """Questions to an alert's author. A thread is read by the members of the author's organisation
    and of the asking organisation, while they may read the alert; nobody else (state staff and the
    operator included) sees it. On an anonymous alert the author's side is shown as "The author"."""

    serializer_class = ThreadSerializer

    def get_queryset(self) -> Any:
        return Question.objects.visible_to(self.request.user)

    def _thread(self, alert: Alert, pk: Any) -> questions.Thread:
        for thread in questions.threads_for(self.request.user, alert):
            if str(thread.question.pk) == str(pk):
                return thread
        raise Http404

    @extend_schema(responses=ThreadSerializer(many=True))
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The threads on this alert you may read, oldest first."""
        return Response(ThreadSerializer(questions.threads_for(request.user, self.alert()), many=True).data)

    @extend_schema(responses=ThreadSerializer)
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(ThreadSerializer(self._thread(self.alert(), kwargs["pk"])).data)

    @extend_schema(request=AskSerializer, responses={201: ThreadSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Ask the author a question for one of your organisations; the author's organisation is
        e-mailed. Not on drafts or revoked alerts."""
        alert = self.alert()
        data = validated(AskSerializer, request.data)
        user = acting_user(request)
        choices = {o.pk: o for o in questions.asking_organizations(user, alert)}
        if "organization" in data:
            organization = choices.get(data["organization"])
            if organization is None:
                raise ValidationError({"organization": f"Unknown id: {data['organization']}."})
        elif len(choices) == 1:
            organization = next(iter(choices.values()))
        else:
            raise ValidationError(
                {
                    "organization": "Say which of your organisations asks."
                    if choices
                    else "You have no organisation that can ask: the author's organisation does not ask itself."
                }
            )
        question = questions.question_ask(actor=user, alert=alert, organization=organization, body=data["body"])
        return Response(ThreadSerializer(self._thread(alert, question.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReplySerializer, responses={201: ThreadSerializer})
    @action(detail=True, methods=["post"])
    def replies(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Reply in a thread (members of the author's or the asking organisation); the other side is e-mailed."""
        alert = self.alert()
        question = self.get_queryset().filter(alert=alert, pk=self._thread(alert, kwargs["pk"]).question.pk).get()
        data = validated(ReplySerializer, request.data)
        questions.question_reply(actor=acting_user(request), question=question, body=data["body"])
        return Response(ThreadSerializer(self._thread(alert, question.pk)).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["alerts"], parameters=[ALERT_UUID])
class VersionViewSet(_UnderAlert):
    """The versions of an alert: what each said, who published it and when, and what changed since
    the version before. You see only the versions whose audience you were in (an alert widened from
    AMBER to GREEN shows GREEN-only readers its GREEN versions); what changed is given only when you
    may see the version before too."""

    serializer_class = VersionSerializer

    def get_queryset(self) -> Any:
        return Alert.objects.none()

    @extend_schema(responses=VersionSerializer(many=True))
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Newest first."""
        versions, _ = history.versions_for(request.user, self.alert())
        return Response(VersionSerializer(versions, many=True).data)


@extend_schema(tags=["alerts"], parameters=[ALERT_UUID])
class ForwardViewSet(_UnderAlert):
    """Forward an alert by e-mail to someone who may already read it (TLP:CLEAR: to any address).
    TLP:RED is never forwarded; TLP:AMBER+STRICT only to colleagues of your own organisation. A
    refusal does not say whether a person with that address exists."""

    serializer_class = ForwardSerializer

    def get_queryset(self) -> Any:
        return Alert.objects.none()

    @extend_schema(request=ForwardSerializer, responses={202: ForwardedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        alert = self.alert()
        data = validated(ForwardSerializer, request.data)
        address = forwarding.alert_forward(
            actor=acting_user(request), alert=alert, email=data["email"], note=data.get("note", "")
        )
        return Response({"to": address, "status": "queued"}, status=status.HTTP_202_ACCEPTED)
