"""ASGI entry point (uvicorn). Later issues serve server-sent events through it."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")
application = get_asgi_application()

# Everything loaded so far (settings, URLconf, whitenoise's index of static files) lives as long as
# the process: move it out of the collector's sight, so full collections stay short
# (bench/directory/README.md measured 70-90 ms pauses without this).
gc.freeze()
