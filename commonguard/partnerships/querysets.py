"""The read rules of partnerships (docs/adr/0025-partnerships-library-events-grants.md). Pages, the
iCalendar feed and the demo read these models only through `visible_to`; anything else answers like
something that does not exist."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Q

from commonguard.accounts.viewer import NO_PERSON, viewer_for
from commonguard.core.audience import tlp_audience


class ResourceQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> ResourceQuerySet:
        """Library resources follow the TLP audience table of alerts (ADR 13), through the same
        `core.audience.tlp_audience`: CLEAR/GREEN every vetted person; AMBER/AMBER+STRICT the author's
        organisation and the organisations and sharing groups named; RED the author and the people named."""
        from commonguard.partnerships.models import Resource

        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        my_orgs = list(viewer.org_ids)
        named_org = Exists(
            Resource.recipient_orgs.through.objects.filter(resource_id=OuterRef("pk"), organization_id__in=my_orgs)
        )
        in_group = Exists(
            Resource.recipient_groups.through.objects.filter(
                resource_id=OuterRef("pk"), sharinggroup__organizations__in=my_orgs
            )
        )
        named_person = Exists(
            Resource.recipient_people.through.objects.filter(
                resource_id=OuterRef("pk"), user_id=viewer.user_id or NO_PERSON
            )
        )
        return self.filter(tlp_audience(viewer, named_org=named_org, named_person=named_person, in_group=in_group))


class ResourcePartQuerySet(models.QuerySet):
    """Comments and "we use this" marks: parts of a library resource."""

    def visible_to(self, user: Any) -> ResourcePartQuerySet:
        """They inherit their resource's rule, never re-derive it."""
        from commonguard.partnerships.models import Resource

        return self.filter(resource__in=Resource.objects.visible_to(user).values("pk"))


class InitiativeQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> InitiativeQuerySet:
        """An initiative is read by the approved members of its lead organisation and of each partner,
        by the state staff of its state, and by the operator."""
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        my_orgs = list(viewer.org_ids)
        from commonguard.partnerships.models import Partner

        partner = Exists(Partner.objects.filter(initiative_id=OuterRef("pk"), organization_id__in=my_orgs))
        return self.filter(Q(lead_org_id__in=my_orgs) | Q(state__in=viewer.staff_states) | partner)


class InitiativeChildQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> InitiativeChildQuerySet:
        """Partners, goals, milestones and notes inherit their initiative's rule."""
        from commonguard.partnerships.models import Initiative

        return self.filter(initiative__in=Initiative.objects.visible_to(user).values("pk"))


class EngagementQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> EngagementQuerySet:
        """The liaison's log of a local government is read by the state staff of its state and by the
        government's own approved members (what the state did with them), and by the operator."""
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        return self.filter(Q(organization__state__in=viewer.staff_states) | Q(organization_id__in=viewer.org_ids))


class EventQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> EventQuerySet:
        """State programme events are open to the whole vetted community."""
        viewer = viewer_for(user)
        return self.all() if viewer.is_vetted else self.none()


class RegistrationQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> RegistrationQuerySet:
        """A registration is read by the person registered and by the event's organisers: the admins
        of the organising organisation and the state staff of the event's state (and the operator)."""
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        return self.filter(
            Q(user_id=viewer.user_id)
            | Q(event__organizer_org_id__in=viewer.admin_org_ids)
            | Q(event__state__in=viewer.staff_states)
        )


class GrantProgramQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> GrantProgramQuerySet:
        """Grant programmes and their pass-through totals are public facts for the vetted community."""
        viewer = viewer_for(user)
        return self.all() if viewer.is_vetted else self.none()


class SubAwardQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> SubAwardQuerySet:
        """A sub-award is read by the receiving organisation's members, the programme's administering
        organisation, the state staff of the programme's state, and the operator. Others see only the
        programme's totals (`selectors.pass_through`)."""
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        return self.filter(
            Q(organization_id__in=viewer.org_ids)
            | Q(program__administrator_id__in=viewer.org_ids)
            | Q(program__state__in=viewer.staff_states)
        )


class VolunteerOfferQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> VolunteerOfferQuerySet:
        """An offer (and who made it) is read by the person offering, their organisation's members, the
        state staff of its state (the liaison matches), the local government it was matched to, the
        operator, and, once vetted and matched, the mutual-aid programme coordinators of its state
        (who put the volunteer on their roster)."""
        from commonguard.partnerships.models import VolunteerMatch

        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        from commonguard.mutualaid.querysets import coordinator_org_ids
        from commonguard.orgs.models import Organization

        matched = Exists(
            VolunteerMatch.objects.filter(offer_id=OuterRef("pk"), need__organization_id__in=list(viewer.org_ids))
        )
        rule: Any = (
            Q(offered_by_id=viewer.user_id)
            | Q(organization_id__in=viewer.org_ids)
            | Q(state__in=viewer.staff_states)
            | matched
        )
        programmes = coordinator_org_ids(viewer)
        if programmes:
            # Roster candidates: mutual-aid coordinators read the vetted, matched offers of their state.
            states = Organization.objects.filter(pk__in=list(programmes)).values("state")
            rule |= Q(vetted_at__isnull=False, status="matched", state__in=states)
        return self.filter(rule)


class LocalNeedQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> LocalNeedQuerySet:
        """A local government's need is read by its members, the state staff of its state, whoever was
        matched to it, and the operator."""
        from commonguard.partnerships.models import VolunteerMatch

        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        matched = Exists(
            VolunteerMatch.objects.filter(need_id=OuterRef("pk")).filter(
                Q(offer__offered_by_id=viewer.user_id) | Q(offer__organization_id__in=list(viewer.org_ids))
            )
        )
        return self.filter(
            Q(organization_id__in=viewer.org_ids) | Q(organization__state__in=viewer.staff_states) | matched
        )


class VolunteerMatchQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> VolunteerMatchQuerySet:
        """A match is read by whoever may read both its offer and its need."""
        from commonguard.partnerships.models import LocalNeed, VolunteerOffer

        return self.filter(
            offer__in=VolunteerOffer.objects.visible_to(user).values("pk"),
            need__in=LocalNeed.objects.visible_to(user).values("pk"),
        )
