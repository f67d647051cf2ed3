"""The read rules of mutual aid (ADR 24). Every page, API and e-mail reads through these.

What a person may not see answers exactly like something that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from commonguard.accounts.viewer import Viewer, viewer_for


def coordinator_org_ids(viewer: Viewer) -> frozenset[int]:
    """Programmes (organisations) whose coordinator the person is."""
    from commonguard.accounts.models import Role

    return frozenset(org for org, role in viewer.roles_by_org.items() if role == Role.COORDINATOR)


class AgreementQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> AgreementQuerySet:
        """Agreements the person may read: those their organisations administer or are party to,
        and, for state staff, every agreement of their state. Drafts only to the administrator's
        members. The operator reads all."""
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        mine = Q(administrator_id__in=viewer.org_ids)
        in_force_or_ended = ~Q(status="draft")
        party = Q(party_rows__organization_id__in=viewer.org_ids, party_rows__withdrawn_on__isnull=True)
        staff = Q(state__in=viewer.staff_states)
        ids = self.filter(mine | (in_force_or_ended & (party | staff))).values("pk")
        return self.filter(pk__in=ids)

    def in_force_on(self, day: Any) -> AgreementQuerySet:
        return self.filter(status="in_force", effective_from__lte=day).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=day)
        )


class ResponderQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> ResponderQuerySet:
        """The roster profile (name, programme, skills, county, mode, status; never the personal
        details): every vetted person sees responders who are active or inactive (those a request
        can be matched to); the programme's own members and the state staff of its state see every
        status; a responder sees their own row."""
        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        if viewer.is_operator:
            return self.all()
        rule = Q(user_id=viewer.user_id)
        if viewer.is_vetted:
            rule |= Q(status__in=["active", "inactive"])
            rule |= Q(programme_id__in=viewer.org_ids)
            rule |= Q(programme__state__in=viewer.staff_states)
        return self.filter(rule)


class ResponderPrivateQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> ResponderPrivateQuerySet:
        """Phone, home address and background-check result: only the coordinators of the
        responder's programme, the responder, and the approved members of the organisation the
        responder is deployed to while that deployment is active or extended. Nobody else: not the
        operator, not state staff, not the programme's other members."""
        from commonguard.mutualaid.models import Deployment

        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        rule = Q(responder__user_id=viewer.user_id)
        coordinated = coordinator_org_ids(viewer)
        if coordinated:
            rule |= Q(responder__programme_id__in=coordinated)
        if viewer.org_ids:
            deployed = Deployment.objects.filter(
                status__in=Deployment.UNDER_WAY, request__requesting_org_id__in=viewer.org_ids
            ).values("responder_id")
            rule |= Q(responder_id__in=deployed)
        return self.filter(rule)


def private_visible(user: Any, responder_id: int) -> bool:
    """The field rule: may `user` see this responder's personal details?"""
    from commonguard.mutualaid.models import ResponderPrivate

    return ResponderPrivate.objects.visible_to(user).filter(responder_id=responder_id).exists()


class TeamPackageQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> TeamPackageQuerySet:
        """Templates and active packages to every vetted person; drafts and retired ones to the
        provider's members."""
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        return self.filter(Q(is_template=True) | Q(status="active") | Q(provider_id__in=viewer.org_ids))


class AssistanceRequestQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> AssistanceRequestQuerySet:
        """A request says an organisation is in trouble: its own members, every coordinator (they
        source responders), the state staff of its state, and responders proposed for it."""
        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        if viewer.is_operator:
            return self.all()
        rule = Q(deployments__responder__user_id=viewer.user_id)
        if viewer.is_vetted:
            rule |= Q(requesting_org_id__in=viewer.org_ids) | Q(requesting_org__state__in=viewer.staff_states)
            if coordinator_org_ids(viewer):
                rule |= ~Q(pk=None)
        return self.filter(pk__in=self.filter(rule).values("pk"))


class DeploymentQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> DeploymentQuerySet:
        """The requesting organisation's members, the coordinators of the responder's programme,
        the responder, and state staff of the requester's state."""
        viewer = viewer_for(user)
        if not viewer.is_authenticated:
            return self.none()
        if viewer.is_operator:
            return self.all()
        rule = Q(responder__user_id=viewer.user_id)
        if viewer.is_vetted:
            rule |= Q(request__requesting_org_id__in=viewer.org_ids)
            rule |= Q(responder__programme_id__in=coordinator_org_ids(viewer))
            rule |= Q(request__requesting_org__state__in=viewer.staff_states)
        return self.filter(rule)


class DeploymentChildQuerySet(models.QuerySet):  # type: ignore[type-arg]
    """Time and expense logs, demobilisation checklists and claims: read by whoever may read their
    deployment (ADR 33). They carry no personal details beyond the roster profile."""

    def visible_to(self, user: Any) -> DeploymentChildQuerySet:
        from commonguard.mutualaid.models import Deployment

        return self.filter(deployment_id__in=Deployment.objects.visible_to(user).values("pk"))


class AfterActionQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def visible_to(self, user: Any) -> AfterActionQuerySet:
        """An after-action report says how an organisation fared: the requesting organisation's
        members, the state staff of its state, and the coordinators of the programmes that deployed
        to it. (Published to the library, a copy is read there by its TLP label.)"""
        from commonguard.mutualaid.models import Deployment

        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        if viewer.is_operator:
            return self.all()
        coordinated = coordinator_org_ids(viewer)
        deployed_to = Deployment.objects.filter(responder__programme_id__in=coordinated).values("request_id")
        rule = Q(request__requesting_org_id__in=viewer.org_ids)
        rule |= Q(request__requesting_org__state__in=viewer.staff_states)
        if coordinated:
            rule |= Q(request_id__in=deployed_to)
        return self.filter(rule)
