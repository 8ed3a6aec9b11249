"""Celery entry point: ``celery -A tasks worker`` / ``celery -A tasks beat``."""

from tasks import pipeline as pipeline
from tasks import reingest as reingest
from tasks import signals as signals
from tasks.app import app as app

celery = app
__all__ = ["app", "celery", "pipeline", "reingest", "signals"]
