"""What a sink does when the broker fences its static member id (``FENCED_INSTANCE_ID``).

librdkafka makes every ``FENCED_INSTANCE_ID`` fatal, but two different situations produce it:

* **a real duplicate**: another live process joined the group with our ``group.instance.id``. One of
  the two must stop, non-zero and saying why (issue #17.10), or it sits idle holding nothing.
* **a self-fence**: after the group coordinator moved (its broker was killed and came back, or
  leadership of the ``__consumer_offsets`` partition moved), the coordinator knows our instance id
  under a member id that differs from the one an in-flight request carried. The cluster rehearsal
  showed it: after ``kill -9`` of the coordinator broker, two sinks with distinct ids were both fenced
  on an OffsetCommit, and both exited although nobody else held their ids.

They are told apart by asking the coordinator who holds our instance id now (``DescribeGroups``). Every
sink's ``client.id`` carries a per-process token (:func:`client_id`), so a holder with our client id, or
no holder at all, is ourselves: the sink replaces its consumer and rejoins. A holder with another
client id is a real duplicate: the sink stops. Rejoins are bounded (:class:`RejoinBudget`), so two
processes that somehow both look like "us" cannot fence each other for ever.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections import deque
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

log = logging.getLogger("marketpipe.stream.sink")

#: Connection settings a consumer shares with the admin client that asks about the group.
_SHARED_PREFIXES = ("bootstrap.servers", "security.", "sasl.", "ssl.", "client.id", "socket.")


def client_id(kind: str) -> str:
    """``marketpipe-sink-<kind>-<pid>-<token>``: unique per process (containers all run as pid 1)."""
    return f"marketpipe-sink-{kind}-{os.getpid()}-{secrets.token_hex(3)}"


def is_fenced(err: KafkaError) -> bool:
    """Whether a (fatal) consumer error is the broker fencing our static member id."""
    return err.code() == KafkaError.FENCED_INSTANCE_ID or "fenced" in err.str().lower()


class RejoinBudget:
    """At most ``limit`` self-fence rejoins within ``window_s`` seconds."""

    def __init__(self, limit: int = 5, window_s: float = 600.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._times: deque[float] = deque()

    def take(self, now: float | None = None) -> bool:
        """Spend one rejoin; False when the budget of the window is used up."""
        now = time.monotonic() if now is None else now
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


def holder_of(members: list[Any], instance_id: str) -> str | None:
    """The client id of the group member holding ``instance_id`` (None: nobody holds it)."""
    for member in members:
        if getattr(member, "group_instance_id", None) == instance_id:
            return str(member.client_id)
    return None


class FenceJudge:
    """Decides whether a fencing came from another live process (see the module docstring)."""

    def __init__(self, consumer_conf: dict[str, Any], group: str, instance_id: str, timeout_s: float = 30.0):
        self.admin_conf = {k: v for k, v in consumer_conf.items() if k.startswith(_SHARED_PREFIXES)}
        self.group, self.instance_id, self.timeout_s = group, instance_id, timeout_s
        self.client_id = str(consumer_conf.get("client.id", ""))

    def other_holder(self) -> str | None:
        """The client id of ANOTHER process holding our instance id, or None if it is us or nobody.

        While the coordinator cannot answer (it is moving), ask again until ``timeout_s``; if it never
        answers, assume it is us: rejoining then fences a real duplicate, which asks the same question
        and stops, so exactly one of the two keeps the id.
        """
        admin = AdminClient(self.admin_conf)
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                (future,) = admin.describe_consumer_groups([self.group], request_timeout=10).values()
                members = list(future.result(timeout=15).members)
            except KafkaException as exc:
                if time.monotonic() >= deadline:
                    log.warning(
                        "sink: cannot describe group %s to check the fencing (%s): rejoining", self.group, exc
                    )
                    return None
                time.sleep(1.0)
                continue
            holder = holder_of(members, self.instance_id)
            return holder if holder is not None and holder != self.client_id else None
