"""The Celery app. Late acknowledgement and prefetch 1 come from settings (``CELERY_*``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agentfield_site.settings")

app = Celery("agentfield")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
