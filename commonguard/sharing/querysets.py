"""The read rule of alerts: TLP 2.0 as access control (docs/adr/0013-tlp-audience-policy.md).
Every channel (pages, API, live feed, e-mail, webhooks, exports, search) reads alerts through it."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Q

from commonguard.accounts.viewer import viewer_for
from commonguard.core.audience import tlp_audience


class AlertQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> AlertQuerySet:
        """Alerts `user` may read.

        - drafts: their author only;
        - published, updated or revoked alerts, by label:
          CLEAR, GREEN: every vetted person;
          AMBER, AMBER+STRICT: the approved members of the author's organisation, of each named
          organisation, and of each organisation in a named sharing group;
          RED: the author and the people named, while they are vetted;
        The hub operator follows the same rule: TLP binds whoever runs the hub too.
        Anything else answers like something that does not exist.
        """
        from commonguard.sharing.models import Alert, SharingGroup

        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        own_drafts = Q(status=Alert.Status.DRAFT, author_id=viewer.user_id)
        if not viewer.is_vetted:
            return self.none()
        my_orgs = list(viewer.org_ids)
        in_group = Exists(SharingGroup.objects.filter(alerts=OuterRef("pk"), organizations__in=my_orgs).values("pk"))
        named_org = Exists(
            Alert.recipient_orgs.through.objects.filter(alert_id=OuterRef("pk"), organization_id__in=my_orgs)
        )
        named_person = Exists(
            Alert.recipient_people.through.objects.filter(alert_id=OuterRef("pk"), user_id=viewer.user_id or 0)
        )
        # The label's audience is the one table of ADR 13, shared with the library (core/audience.py).
        audience = tlp_audience(viewer, named_org=named_org, named_person=named_person, in_group=in_group)
        return self.filter(own_drafts | Q(status__in=Alert.LIVE_STATUSES) & audience)


class IndicatorQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> IndicatorQuerySet:
        """Indicators inherit their alert's rule, never re-derive it."""
        from commonguard.sharing.models import Alert

        return self.filter(alert__in=Alert.objects.visible_to(user))


class SharingGroupQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> SharingGroupQuerySet:
        """Sharing groups are known to the vetted community (authors pick them as an audience);
        which alerts went to them is governed by the alerts' own rule."""
        viewer = viewer_for(user)
        return self.all() if viewer.is_vetted else self.none()


class ReactionQuerySet(models.QuerySet):
    """Acknowledgements and sightings: who reacted, and how, is shared with the alert's author
    organisation, the reacting organisation itself and the state staff of the author's state; every
    other reader of the alert learns only the counts (`sharing.selectors.reaction_counts`)."""

    def visible_to(self, user: Any) -> ReactionQuerySet:
        from commonguard.sharing.models import Alert

        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        readable = Alert.objects.visible_to(user).values("pk")
        insiders = (
            Q(organization_id__in=viewer.org_ids)
            | Q(alert__author_org_id__in=viewer.org_ids)
            | Q(alert__author_org__state__in=viewer.staff_states)
        )
        return self.filter(insiders, alert__in=readable)


class WebhookQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> WebhookQuerySet:
        """An organisation's webhooks (and their secrets) are its admins' business alone."""
        viewer = viewer_for(user)
        return self.filter(organization_id__in=viewer.admin_org_ids)


class QuestionQuerySet(models.QuerySet):
    """Questions to an alert's author (docs/adr/0017-alert-questions-history-forwarding.md): a thread
    is read by the members of the alert's author organisation and of the asking organisation, and
    only while they may read the alert itself. Nobody else — state staff and the operator included —
    learns that it exists."""

    def visible_to(self, user: Any) -> QuestionQuerySet:
        from commonguard.sharing.models import Alert

        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        readable = Alert.objects.visible_to(user).values("pk")
        parties = Q(organization_id__in=viewer.org_ids) | Q(alert__author_org_id__in=viewer.org_ids)
        return self.filter(parties, alert__in=readable)


class QuestionReplyQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> QuestionReplyQuerySet:
        """Replies inherit their thread's rule, never re-derive it."""
        from commonguard.sharing.models import Question

        return self.filter(question__in=Question.objects.visible_to(user).values("pk"))
