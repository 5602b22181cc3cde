"""Local simulator of every external provider marketpipe talks to (HTTP and WebSocket).

It imports nothing of marketpipe outside this package: it encodes the real APIs independently of our
parsers. Start it with ``marketpipe sandbox`` / ``python -m marketpipe.sandbox``, or in code with
:func:`create_app`.
"""

from marketpipe.sandbox.app import create_app
from marketpipe.sandbox.config import SandboxConfig
from marketpipe.sandbox.prefixes import sandbox_prefixes

__all__ = ["SandboxConfig", "create_app", "sandbox_prefixes"]
