"""The consumer's static group membership id (``group.instance.id``).

Configured: e.g. the StatefulSet pod name. Default: ``<group>@<host>#<slot>``, the slot being the
lowest one no live process on this host holds (a lock file, released by the kernel even on
``kill -9``): a restart gets the same id back, a second concurrent sink gets another one. (A single
default id per host made a second sink fence the first, which then sat idle.) Sinks of one
``--workers`` run differ by ``member_suffix`` as well.
"""

from __future__ import annotations

import fcntl
import socket
import tempfile
from pathlib import Path
from typing import IO

from marketpipe.stream.sink.errors import SinkError


class MemberId:
    """The member id of one sink, holding its host slot (if any) until :meth:`release`."""

    def __init__(self, group: str, instance_id: str | None, suffix: str) -> None:
        self._lock: IO[bytes] | None = None
        if instance_id:
            self.value = instance_id + suffix
        else:
            self.value = self._claim(f"{group}@{socket.gethostname()}", suffix)

    def _claim(self, base: str, suffix: str) -> str:
        """``base#<n>suffix`` for the lowest slot ``n`` not held by a live process on this host."""
        folder = Path(tempfile.gettempdir()) / "marketpipe-sink-members"
        folder.mkdir(mode=0o700, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "._-@#" else "_" for c in base + suffix)[:200]
        for slot in range(1024):
            handle = (folder / f"{safe}.{slot}.lock").open("ab")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self._lock = handle  # held (and the id ours) until this process ends or release()
            return f"{base}#{slot}{suffix}"
        raise SinkError(f"no free member slot for {base} on this host (1024 sinks?)")

    def release(self) -> None:
        """Free the slot for the next sink on this host."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None
