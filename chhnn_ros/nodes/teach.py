"""Teaching by name, without ROS: parse commands, collect the target's
features over the next frames, and learn them with one ``partial_fit``.

Commands (the ``data`` of a std_msgs/String on ``teach``):

- ``cup``: teach the object now in view (the largest, most central one);
- ``{"label": "cup", "samples": 30, "box": [x1, y1, x2, y2]}`` or
  ``{"label": "cup", "track_id": 7}``: teach a specific object;
- ``{"forget": "cup"}``: remove a class.

A bad command raises ``ValueError`` from :func:`parse_command` and nothing
changes; the node turns that into an ``error`` status.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chhnn_ros.perception.crops import select_target
from chhnn_ros.perception.types import Detection

MAX_LABEL_CHARS = 64
MAX_SAMPLES = 500
_KEYS = {"label", "samples", "box", "track_id", "forget"}


@dataclass
class TeachCommand:
    kind: str  # "teach" or "forget"
    label: str
    samples: int = 0
    box: tuple[float, float, float, float] | None = None
    track_id: int | None = None


def check_label(label: Any) -> str:
    if not isinstance(label, str):
        raise ValueError(f"label must be a string, got {type(label).__name__}")
    label = label.strip()
    if not label:
        raise ValueError("label is empty")
    if len(label) > MAX_LABEL_CHARS:
        raise ValueError(f"label is {len(label)} characters long; the limit is {MAX_LABEL_CHARS}")
    if any(unicodedata.category(c).startswith("C") or unicodedata.category(c) in ("Zl", "Zp") for c in label):
        raise ValueError("label contains control characters or line breaks")
    if "\ufffd" in label:  # what rclpy makes of bytes that are not UTF-8: the sender's encoding is wrong
        raise ValueError("label is not valid UTF-8 (contains U+FFFD replacement characters)")
    return label


def parse_command(text: Any, default_samples: int) -> TeachCommand:
    """A teach/forget command from a message's text, or ``ValueError``."""
    if not isinstance(text, str):
        raise ValueError(f"teach message must be text, got {type(text).__name__}")
    text = text.strip()
    if text.startswith("["):  # a JSON array is never a name
        raise ValueError("teach JSON must be an object, e.g. {\"label\": \"cup\"}")
    if not text.startswith("{"):
        return TeachCommand("teach", check_label(text), samples=default_samples)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"teach message looks like JSON but does not parse: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError("teach JSON must be an object")
    unknown = set(obj) - _KEYS
    if unknown:
        raise ValueError(f"unknown teach keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    if "forget" in obj:
        if len(obj) != 1:
            raise ValueError('"forget" takes no other keys: {"forget": "cup"}')
        return TeachCommand("forget", check_label(obj["forget"]))
    if "label" not in obj:
        raise ValueError('teach JSON needs a "label" (or "forget")')
    samples = obj.get("samples", default_samples)
    if not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples <= MAX_SAMPLES:
        raise ValueError(f"samples must be an integer in 1..{MAX_SAMPLES}, got {samples!r}")
    box = obj.get("box")
    if box is not None:
        ok = isinstance(box, list) and len(box) == 4 and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in box)
        if not ok or box[2] <= box[0] or box[3] <= box[1]:
            raise ValueError(f"box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1, got {box!r}")
        box = tuple(float(v) for v in box)
    track = obj.get("track_id")
    if track is not None and (not isinstance(track, int) or isinstance(track, bool)):
        raise ValueError(f"track_id must be an integer, got {track!r}")
    if box is not None and track is not None:
        raise ValueError("give either box or track_id, not both")
    return TeachCommand("teach", check_label(obj["label"]), samples=samples, box=box, track_id=track)


@dataclass
class TeachStatus:
    state: str  # collecting | learned | forgotten | error
    label: str
    message: str
    collected: int = 0
    needed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "label": self.label, "message": self.message,
                "collected": self.collected, "needed": self.needed}


@dataclass
class TeachSession:
    """One teach in progress: the target's feature vectors collected so far."""

    command: TeachCommand
    started: float
    timeout: float
    vectors: list[np.ndarray] = field(default_factory=list)
    last_seen: float | None = None

    @property
    def complete(self) -> bool:
        return len(self.vectors) >= self.command.samples

    def expired(self, now: float) -> bool:
        # The timeout restarts while the object is seen, so a slow encoder never fails a visible teach.
        return now - (self.last_seen if self.last_seen is not None else self.started) > self.timeout

    def offer(self, dets: list[Detection], vectors: np.ndarray, image_shape: tuple[int, int], now: float) -> bool:
        """Add the target's vector from one frame; True if the target was found."""
        if self.complete or not dets:
            return False
        cmd = self.command
        target = select_target(dets, image_shape, box=cmd.box, track_id=cmd.track_id)
        if target is None:
            return False
        i = next(k for k, d in enumerate(dets) if d is target)
        if cmd.box is not None:  # follow the object as it moves: next frame matches its latest box
            cmd.box = target.box
        self.vectors.append(np.asarray(vectors[i], dtype=np.float32))
        self.last_seen = now
        return True

    def features(self) -> np.ndarray:
        return np.stack(self.vectors[: self.command.samples])


class Teacher:
    """At most one teach at a time; the node feeds it commands and frames."""

    def __init__(self, default_samples: int, timeout: float, reserved: tuple[str, ...] = ()) -> None:
        if default_samples < 1 or timeout <= 0:
            raise ValueError("teach_samples must be >= 1 and teach_timeout > 0")
        self.default_samples = int(default_samples)
        self.timeout = float(timeout)
        self.reserved = tuple(reserved)  # e.g. the unknown_label: a class of that name would be ambiguous
        self.session: TeachSession | None = None

    def command(self, text: Any, now: float) -> tuple[TeachStatus, TeachCommand | None]:
        """Parse ``text``; a teach opens a session, a forget is returned for the caller to apply."""
        try:
            cmd = parse_command(text, self.default_samples)
        except ValueError as exc:
            return TeachStatus("error", "", f"bad teach command: {exc}"), None
        if cmd.kind == "teach" and cmd.label in self.reserved:
            return TeachStatus("error", cmd.label, f"bad teach command: {cmd.label!r} is reserved (the label of "
                               "unrecognised objects); choose another name"), None
        if cmd.kind == "forget":
            return TeachStatus("collecting", cmd.label, f"forgetting {cmd.label!r}"), cmd
        if self.session is not None:
            busy = self.session.command.label
            return TeachStatus("error", cmd.label, f"busy teaching {busy!r}; retry when it finishes"), None
        self.session = TeachSession(cmd, started=now, timeout=self.timeout)
        how = f"box {list(cmd.box)}" if cmd.box else f"track {cmd.track_id}" if cmd.track_id is not None else \
            "the largest, most central object"
        return TeachStatus("collecting", cmd.label, f"teaching {cmd.label!r} from {how}", 0, cmd.samples), cmd

    def frame(self, dets: list[Detection], vectors: np.ndarray, image_shape: tuple[int, int],
              now: float) -> tuple[TeachStatus | None, tuple[str, np.ndarray] | None]:
        """Feed one frame's features; returns (status to publish or None, (label, X) to learn or None)."""
        s = self.session
        if s is None:
            return None, None
        found = s.offer(dets, vectors, image_shape, now)
        n, need, label = len(s.vectors), s.command.samples, s.command.label
        if s.complete:
            self.session = None
            return TeachStatus("collecting", label, f"collected {n} samples of {label!r}; learning", n, need), \
                (label, s.features())
        if not found:
            return self.tick(now), None
        step = max(1, need // 4)  # progress four times per teach, not on every frame
        if found and n % step == 0:
            return TeachStatus("collecting", label, f"{n}/{need} samples of {label!r}", n, need), None
        return None, None

    def tick(self, now: float) -> TeachStatus | None:
        """Time out a teach when no frames arrive at all."""
        s = self.session
        if s is not None and s.expired(now):
            self.session = None
            n, need = len(s.vectors), s.command.samples
            return TeachStatus("error", s.command.label, f"no object to teach as {s.command.label!r} in view for "
                               f"{self.timeout:g} s ({n}/{need} samples); nothing was learned", n, need)
        return None


def learn(learner: Any, label: str, X: np.ndarray) -> None:
    """One ``partial_fit`` with every collected sample (raises ``ValueError`` on bad features)."""
    learner.partial_fit(X, [label] * len(X))
