"""Background pulls, on the `bulk` queue: never ahead of alerts people write (ADR 6, ADR 16)."""

from __future__ import annotations

import logging
from typing import Any

from django_tasks import task

log = logging.getLogger(__name__)


@task(queue_name="bulk", priority=-90)  # QUEUE_PRIORITY["bulk"] (sharing/delivery.py)
def feed_pull_task(feed_id: int) -> dict[str, Any]:
    from commonguard.core import context
    from commonguard.feeds.models import Feed
    from commonguard.feeds.services import FeedError, feed_pull

    feed = Feed.objects.filter(pk=feed_id).first()
    if feed is None:
        return {"feed": feed_id, "error": "deleted"}
    token = context.bind(context.RequestContext(channel="worker"))
    try:
        return feed_pull(feed).as_dict()
    except FeedError as exc:
        log.warning("Feed %s failed: %s", feed_id, exc)
        return {"feed": feed_id, "error": str(exc)}
    finally:
        context.reset(token)
