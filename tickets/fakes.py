"""Stand-ins for the notification channels, for tests and demonstrations."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Sent:
    channel: str
    to: str
    subject: str
    body: str


class RecordingNotifier:
    """Remembers what it was asked to send; `fail_with` makes every send raise it."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent: list[Sent] = []
        self.fail_with: Exception | None = None
        self._lock = threading.Lock()

    def send(self, *, to: str, subject: str, body: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            self.sent.append(Sent(self.channel, to, subject, body))
