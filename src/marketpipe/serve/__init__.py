"""The live API: REST over PostgreSQL and Redis, WebSocket price push, and a dashboard page."""

from marketpipe.serve.app import create_app

__all__ = ["create_app"]
