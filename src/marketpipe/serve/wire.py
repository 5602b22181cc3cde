"""The fast lane of the WebSocket push path: one encoded frame, written to every socket as is.

A push goes to every client of a feed with the same bytes (every in-sync client gets the same
delta). Through ASGI each send costs a ``websocket.send`` message, the websockets library's frame
building (and, with permessage-deflate, one compression per client), an ``asyncio.wait_for`` task
and a sender-task wakeup: ~0.4 ms per client per push, the whole CPU budget at 1,000 clients.
Here the frame is built once per message and written with one ``transport.write`` per client.

:class:`FanoutWebSocketsProtocol` is uvicorn's ``websockets-sansio`` protocol with two additions:
it puts a :class:`RawSocket` for the connection into the ASGI scope (``scope["extensions"]``,
under :data:`EXTENSION`), and it calls back when a paused transport can take data again (so a
client that was skipped while its buffers were full gets the newest values as soon as it drains).
Everything else — handshake, Origin checks in the app, pings, close — stays uvicorn's and the
websockets library's. Without the extension (another server, the test client, a connection that
negotiated compression) the push path falls back to ASGI sends.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

EXTENSION = "marketpipe.raw_websocket"


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked (server → client) text frame carrying ``payload``."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x81, 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 127, n)
    return head + payload


class RawSocket:
    """Direct writes of pre-built frames to one accepted WebSocket connection."""

    __slots__ = ("_proto", "blocked_since")

    def __init__(self, proto: FanoutWebSocketsProtocol) -> None:
        self._proto = proto
        #: monotonic time the socket was first found not writable (None while it takes data)
        self.blocked_since: float | None = None

    @property
    def usable(self) -> bool:
        """Open, accepted, and without a negotiated extension (frames must go out as built)."""
        p = self._proto
        return (
            p.handshake_complete
            and p.initial_response is None
            and not p.close_sent
            and not p.disconnected
            and not p.transport.is_closing()
            and p.conn.state is State.OPEN
            and not p.conn.extensions
        )

    def writable(self) -> bool:
        """False while the transport's buffer is above its high-water mark (the peer reads slowly)."""
        return self._proto.writable.is_set()

    def write(self, frame: bytes) -> bool:
        """Write ``frame`` if the connection is open and its buffer has room; False otherwise."""
        p = self._proto
        if not p.writable.is_set():
            if self.blocked_since is None:
                self.blocked_since = time.monotonic()
            return False
        # Cheaper than `usable` (checked once when the client registers): after the handshake a
        # connection only ever closes, and every way of closing sets one of these.
        if p.close_sent or p.disconnected or p.transport.is_closing():
            return False
        self.blocked_since = None
        p.transport.write(frame)
        return True

    def on_writable(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` (no arguments) whenever a paused transport resumes."""
        self._proto.resume_callback = callback

    def abort(self) -> None:
        self._proto.transport.abort()


class FanoutWebSocketsProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websockets protocol, exposing a :class:`RawSocket` to the app."""

    resume_callback: Callable[[], None] | None = None

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and not self.close_sent:  # an upgrade the app will see
            scope.setdefault("extensions", {})[EXTENSION] = RawSocket(self)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.resume_callback is not None:  # not from inside the transport's own callback
            self.loop.call_soon(self.resume_callback)

    def connection_lost(self, exc: Exception | None) -> None:
        self.resume_callback = None
        super().connection_lost(exc)
