"""The query API, one router per area (``stocks``, ``market``, ``macro``, ``crypto``, ``social``, ...).

Every module in this package that defines ``router`` (a :class:`fastapi.APIRouter`) is mounted by
:func:`marketpipe.serve.app.create_app`; adding an area means adding a module here and nothing else.
Routers reach PostgreSQL and Redis through :mod:`marketpipe.serve.deps`.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def discover() -> list[APIRouter]:
    """The ``router`` of every module in this package, in module-name order."""
    routers = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            routers.append(router)
    return routers
