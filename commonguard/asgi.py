"""ASGI entry point (uvicorn). Later issues serve server-sent events through it."""

import gc
import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402

from commonguard.core.lanes import LaneHandler, route  # noqa: E402 - after Django is set up
from commonguard.core.memory import keep_large_buffers  # noqa: E402
from commonguard.interop.asgi import taxii_body_limit  # noqa: E402

# Calls made with an API token run on a few lanes with a short middleware chain (ADR 36); pages and
# session calls keep Django's handler. TAXII POST bodies over max_content_length are refused before
# they are read (413).
token_calls = LaneHandler(settings.API_MIDDLEWARE, lanes=settings.API_LANES)
application = taxii_body_limit(route(django_application, token_calls))

from commonguard.sharing import warninglists  # noqa: E402 - after Django is set up
from commonguard.statutes import deadlines  # noqa: E402

# The states' holiday calendars (business-day clocks), loaded before the first report rather than in it.
deadlines.warm()

# Everything loaded so far (settings, URLconf, whitenoise's index of static files) lives as long as
# the process: move it out of the collector's sight, so full collections stay short
# (bench/directory/README.md measured 70-90 ms pauses without this).
gc.freeze()

# Large response bodies (a 3 MB TAXII page) reuse heap pages instead of faulting in fresh ones.
keep_large_buffers()

# The known-benign index takes a couple of seconds to build: build it now, off the request path.
threading.Thread(target=warninglists.warm, name="warninglists-warm", daemon=True).start()
