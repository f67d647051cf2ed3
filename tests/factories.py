"""factory_boy factories for the directory and people."""

from __future__ import annotations

import factory
from django.utils import timezone

from commonguard.accounts.models import Membership, Role, User
from commonguard.orgs.models import ContactAssignment, Organization, Region

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    full_name = factory.Faker("name")
    title = "Systems administrator"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            self.save()


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    state = "MI"
    number = factory.Sequence(lambda n: n + 1)
    name = factory.LazyAttribute(lambda o: f"Region {o.number}")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Test County {n}")
    kind = Organization.Kind.COUNTY
    state = "MI"
    status = Organization.Status.APPROVED
    county_fips = factory.Sequence(lambda n: f"26{n % 1000:03d}")
    population = 40000
    time_zone = "America/Detroit"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.MEMBER
    status = Membership.Status.APPROVED
    decided_at = factory.LazyFunction(timezone.now)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactAssignment

    organization = factory.SubFactory(OrganizationFactory)
    role = ContactAssignment.Role.CIO
    holder = factory.SubFactory(UserFactory)
    started_at = factory.LazyFunction(timezone.now)
