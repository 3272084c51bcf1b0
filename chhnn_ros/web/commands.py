"""The teach commands this console sent and the ``teach_status`` replies each got.

``teach_status`` carries the command's label, not an id, so a reply belongs to the oldest
unfinished command of that label; the console therefore refuses a second command for a label
whose first is still running (the classifier teaches one object at a time anyway).  A command sent
with the same label by another tool (chhnn-teach, ``ros2 topic pub``) at the same moment cannot be
told apart from this console's.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

FINAL_STATES = ("learned", "forgotten", "error")
KEEP = 50  # commands remembered for GET /api/teach/<id>
STATUSES_PER_COMMAND = 50  # a teach reports a few times (progress in quarters), so this is never reached


@dataclass
class Command:
    id: int
    kind: str  # "teach" or "forget"
    label: str
    command: dict[str, Any]  # the JSON object sent on the teach topic
    sent: float
    statuses: list[dict[str, Any]] = field(default_factory=list)

    def final(self) -> dict[str, Any] | None:
        return next((s for s in reversed(self.statuses) if s.get("state") in FINAL_STATES), None)

    def to_dict(self, now: float) -> dict[str, Any]:
        final = self.final()
        return {"id": self.id, "kind": self.kind, "label": self.label, "command": self.command,
                "age_s": round(now - self.sent, 1), "done": final is not None,
                "status": final or (self.statuses[-1] if self.statuses else None), "statuses": list(self.statuses)}


class TeachCommands:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commands: deque[Command] = deque(maxlen=KEEP)
        self._next_id = 1

    def running(self, label: str, now: float, wait_s: float) -> Command | None:
        """An unfinished command for ``label`` sent less than ``wait_s`` ago (one with no reply for longer
        is given up: its replies may never come)."""
        with self._lock:
            return next((c for c in self._commands
                         if c.label == label and c.final() is None and now - c.sent < wait_s), None)

    def add(self, kind: str, label: str, command: dict[str, Any], now: float) -> Command:
        with self._lock:
            cmd = Command(self._next_id, kind, label, command, now)
            self._next_id += 1
            self._commands.append(cmd)
            return cmd

    def on_status(self, payload: dict[str, Any], now: float) -> None:
        with self._lock:
            for c in self._commands:  # oldest first
                if c.label == payload.get("label") and c.final() is None:
                    if len(c.statuses) < STATUSES_PER_COMMAND:
                        c.statuses.append(payload)
                    return

    def get(self, command_id: int, now: float) -> dict[str, Any] | None:
        with self._lock:
            c = next((c for c in self._commands if c.id == command_id), None)
            return c.to_dict(now) if c is not None else None

    def recent(self, now: float, n: int = 5) -> list[dict[str, Any]]:
        with self._lock:
            return [c.to_dict(now) for c in list(self._commands)[-n:]]
