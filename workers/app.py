"""Entry point for ``celery -A workers.app worker|beat``."""

from workers.celery_app import get_celery

app = get_celery()
