"""The Celery application: Redis broker, no result backend, settings from Django (CELERY_*)."""

import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("trialfinder")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def _one_beat_only(**kwargs):
    from config.beatlock import hold_for_beat

    hold_for_beat(**kwargs)
