"""ASGI entry point (uvicorn). Later issues serve server-sent events through it."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commonguard.settings")
application = get_asgi_application()
