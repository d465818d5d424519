"""The WSGI entry point for gunicorn: `gunicorn driftwood.wsgi:app`."""

from driftwood import create_app

app = create_app()
