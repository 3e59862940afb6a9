"""WSGI entry point for gunicorn."""

import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()
# Import the URLconf, and with it every view (the map's PNG brings matplotlib, about 0.6 s), as
# each worker starts: Django would otherwise do it inside the first request the worker serves.
import_module(settings.ROOT_URLCONF)

from infraplan.maps.public_tiles import PublicTileApp  # noqa: E402 (needs Django set up)

application = PublicTileApp(django_application)
