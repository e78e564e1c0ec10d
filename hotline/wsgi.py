"""The WSGI entry point for gunicorn: `gunicorn hotline.wsgi:app`."""

from hotline import create_app

app = create_app()
