"""The TLP audience table (docs/adr/0013-tlp-audience-policy.md) as one Q, for every model whose rows
carry a TLP label, an author, an author organisation and named organisations/groups/people.

Each model's `visible_to` passes its own "is my organisation named", "am I in a named group" and "am I
named" subqueries; the table of who reads what is stated here once.
"""

from __future__ import annotations

from django.db.models import Exists, Q

from commonguard.accounts.viewer import Viewer
from commonguard.core.tlp import TLP


def tlp_audience(
    viewer: Viewer,
    *,
    named_org: Exists,
    named_person: Exists,
    in_group: Exists | None = None,
    author_field: str = "author_id",
    author_org_field: str = "author_org_id",
    tlp_field: str = "tlp",
) -> Q:
    """Who reads a labelled row: CLEAR and GREEN every vetted person; AMBER and AMBER+STRICT the
    approved members of the author's organisation, of each named organisation and of each organisation
    in a named group; RED the author and the people named. The operator follows the same table.
    A person who is not vetted reads nothing (callers check `viewer.is_vetted` first)."""
    my_orgs = list(viewer.org_ids)
    amber_readers: Q = Q(**{f"{author_org_field}__in": my_orgs}) | Q(named_org)
    if in_group is not None:
        amber_readers |= Q(in_group)
    return (
        Q(**{f"{tlp_field}__in": [TLP.CLEAR, TLP.GREEN]})
        | Q(**{f"{tlp_field}__in": [TLP.AMBER, TLP.AMBER_STRICT]}) & amber_readers
        | Q(**{tlp_field: TLP.RED}) & (Q(**{author_field: viewer.user_id}) | Q(named_person))
    )
