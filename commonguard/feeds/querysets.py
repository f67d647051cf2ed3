"""Read rule of feed configurations: the approved members of the owning organisation (its source
URL and settings are that organisation's business). What the feed *imports* are alerts, read
through `Alert.objects.visible_to` like every other alert."""

from __future__ import annotations

from typing import Any

from django.db import models

from commonguard.accounts.viewer import viewer_for


class FeedQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> FeedQuerySet:
        viewer = viewer_for(user)
        if not viewer.is_vetted:
            return self.none()
        return self.filter(owner_id__in=list(viewer.org_ids))
