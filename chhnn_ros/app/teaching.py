"""Teaching by name, without ROS: parse commands, lock onto one object, collect
its features over the next frames, and hand them over as one teach job.

Commands (the ``data`` of a std_msgs/String on ``teach``):

- ``cup``: teach the object now in view (the largest, most central one);
- ``{"label": "cup", "samples": 30, "box": [x1, y1, x2, y2]}`` or
  ``{"label": "cup", "track_id": 7}``: teach a specific object;
- ``{"forget": "cup"}``: remove a class.

The target is chosen once, at the first frame after the command, and every
later sample must be that same object: the detector's track id where it
tracks, else the box that overlaps the previous sample's box most; in both
cases its features must stay similar to the samples collected so far (a
tracker can swap ids, and on a changing image another object can sit under
the old box).  A teach whose target is lost, or whose box suddenly shows
something else, ends with an ``error`` status and nothing is learned.  A
minimum time between samples makes a teach see the object from the views a
moving robot or a turning object offers instead of copies of one frame.

A bad command raises ``ValueError`` from :func:`parse_command` and nothing
changes; the node turns that into an ``error`` status.
"""

from __future__ import annotations

import json
import math
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chhnn_ros.learning.base import SAME_VIEW_COSINE
from chhnn_ros.perception.crops import iou, select_target
from chhnn_ros.perception.types import Detection

MAX_LABEL_CHARS = 64
MAX_SAMPLES = 500
_KEYS = {"label", "samples", "box", "track_id", "forget"}
STATES = ("collecting", "learned", "forgotten", "error")


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
    return command_from_dict(obj, default_samples)


def command_from_dict(obj: dict[str, Any], default_samples: int) -> TeachCommand:
    """A command from its JSON object (also the body of the web console's ``POST /api/teach``)."""
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
    state: str  # one of STATES
    label: str
    message: str
    collected: int = 0
    needed: int = 0
    views: int = 0  # distinct views among the collected samples

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "label": self.label, "message": self.message,
                "collected": self.collected, "needed": self.needed, "views": self.views}


@dataclass(frozen=True)
class TeachPolicy:
    """How a teach collects its samples (the classifier's ``teach_*`` parameters)."""

    samples: int = 20  # default samples per command
    timeout: float = 10.0  # s without the target (or without any frame) before the teach fails
    lost_timeout: float = 3.0  # s without the target while frames keep coming, once a sample was taken
    interval: float = 0.0  # minimum s between two samples
    min_similarity: float = 0.5  # cosine of a new sample to the mean of the samples so far

    def __post_init__(self) -> None:
        if self.samples < 1 or not self.timeout > 0 or not self.lost_timeout > 0 or not self.interval >= 0:
            raise ValueError("teach_samples must be >= 1, teach_timeout and teach_lost_timeout > 0, "
                             "teach_interval >= 0")
        if not -1.0 <= self.min_similarity <= 1.0:
            raise ValueError(f"teach_min_similarity must be a cosine in -1..1, got {self.min_similarity}")


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).ravel()
    return v / max(float(np.linalg.norm(v)), 1e-12)


class TargetLost(Exception):
    """The teach's object can no longer be followed; the message says why."""


@dataclass
class TeachSession:
    """One teach in progress: its target and the feature vectors collected so far."""

    command: TeachCommand
    started: float
    policy: TeachPolicy
    vectors: list[np.ndarray] = field(default_factory=list)
    views: int = 0
    last_seen: float | None = None
    last_sample: float | None = None
    target_track: int | None = None
    last_box: tuple[float, float, float, float] | None = None
    _unit_sum: np.ndarray | None = None
    _view_units: list[np.ndarray] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.vectors) >= self.command.samples

    def progress(self) -> str:
        return f"{len(self.vectors)} of {self.command.samples} samples"

    def expired(self, now: float) -> bool:
        # Restarted while the target is seen, so a slow encoder never fails a visible teach.
        return now - (self.last_seen if self.last_seen is not None else self.started) > self.policy.timeout

    def _find(self, dets: list[Detection], image_shape: tuple[int, int]) -> int | None:
        """Index of the target in this frame's detections, or None."""
        if self.last_box is None:  # the first frame after the command chooses the target
            cmd = self.command
            target = select_target(dets, image_shape, box=cmd.box, track_id=cmd.track_id)
            if target is None:
                return None
            self.target_track = target.track_id
            return next(k for k, d in enumerate(dets) if d is target)
        if self.target_track is not None:
            return next((k for k, d in enumerate(dets) if d.track_id == self.target_track), None)
        overlaps = [(iou(d.box, self.last_box), k) for k, d in enumerate(dets)]
        best = max(overlaps, default=(0.0, None))
        return best[1] if best[0] > 0 else None

    def _similarity(self, v: np.ndarray) -> float:
        """Cosine of ``v`` to the mean direction of the samples so far (1 where undefined: a zero vector)."""
        if self._unit_sum is None or not v.any() or not self._unit_sum.any():
            return 1.0
        return float(_unit(self._unit_sum) @ v)

    def offer(self, dets: list[Detection], vectors: np.ndarray, image_shape: tuple[int, int], now: float) -> bool:
        """Take the target's vector from one frame; True if a sample was added.

        Raises :class:`TargetLost` when the target is gone for longer than ``lost_timeout`` or the
        object at the target's place is no longer the one being taught."""
        if self.complete:
            return False
        i = self._find(dets, image_shape) if dets else None
        if i is None:
            if self.last_seen is not None and self.vectors and now - self.last_seen > self.policy.lost_timeout:
                raise TargetLost(f"target lost after {self.progress()} (not seen for "
                                 f"{now - self.last_seen:.1f} s, teach_lost_timeout "
                                 f"{self.policy.lost_timeout:g} s)")
            return False
        v = _unit(vectors[i])
        # A track id is the detector's own association; appearance guards only the box overlap, which
        # cannot tell an object from another one put in its place.  (A turning object's views differ
        # as much as two objects' views do, so appearance cannot second-guess a tracker.)
        if self.target_track is None and (sim := self._similarity(v)) < self.policy.min_similarity:
            raise TargetLost(f"the object under the box changed after {self.progress()} (appearance similarity "
                             f"{sim:.2f} < teach_min_similarity {self.policy.min_similarity:g})")
        self.last_seen, self.last_box = now, dets[i].box
        if self.last_sample is not None and now - self.last_sample < self.policy.interval:
            return False  # followed, but too soon after the last sample to be another view
        self.vectors.append(np.asarray(vectors[i], dtype=np.float32))
        self.last_sample = now
        self._unit_sum = v if self._unit_sum is None else self._unit_sum + v
        if all(float(u @ v) < SAME_VIEW_COSINE for u in self._view_units):
            self._view_units.append(v)
            self.views += 1
        return True

    def features(self) -> np.ndarray:
        return np.stack(self.vectors[: self.command.samples])


@dataclass(frozen=True)
class Collected:
    """A finished collection: what to learn."""

    label: str
    features: np.ndarray
    views: int


class Teacher:
    """At most one teach at a time; the node feeds it commands (from the executor) and frames (from
    its worker thread), so every method holds one lock."""

    def __init__(self, policy: TeachPolicy, reserved: tuple[str, ...] = ()) -> None:
        self.policy = policy
        self.reserved = tuple(reserved)  # e.g. the unknown_label: a class of that name would be ambiguous
        self.session: TeachSession | None = None
        self._lock = threading.RLock()

    def command(self, text: Any, now: float) -> tuple[TeachStatus, TeachCommand | None]:
        """Parse ``text``; a teach opens a session, a forget is returned for the caller to apply."""
        try:
            cmd = parse_command(text, self.policy.samples)
        except ValueError as exc:
            return TeachStatus("error", "", f"bad teach command: {exc}"), None
        return self.start(cmd, now)

    def start(self, cmd: TeachCommand, now: float) -> tuple[TeachStatus, TeachCommand | None]:
        with self._lock:
            return self._start(cmd, now)

    def _start(self, cmd: TeachCommand, now: float) -> tuple[TeachStatus, TeachCommand | None]:
        if cmd.kind == "teach" and cmd.label in self.reserved:
            return TeachStatus("error", cmd.label, f"bad teach command: {cmd.label!r} is reserved (the label of "
                               "unrecognised objects); choose another name"), None
        if cmd.kind == "forget":
            return TeachStatus("collecting", cmd.label, f"forgetting {cmd.label!r}"), cmd
        if self.session is not None:
            busy = self.session.command.label
            return TeachStatus("error", cmd.label, f"busy teaching {busy!r}; retry when it finishes"), None
        self.session = TeachSession(cmd, started=now, policy=self.policy)
        how = f"box {list(cmd.box)}" if cmd.box else f"track {cmd.track_id}" if cmd.track_id is not None else \
            "the largest, most central object"
        return TeachStatus("collecting", cmd.label, f"teaching {cmd.label!r} from {how}", 0, cmd.samples), cmd

    def frame(self, dets: list[Detection], vectors: np.ndarray, image_shape: tuple[int, int],
              now: float) -> tuple[TeachStatus | None, Collected | None]:
        """Feed one frame's features; returns (status to publish or None, what to learn or None)."""
        with self._lock:
            return self._frame(dets, vectors, image_shape, now)

    def _frame(self, dets: list[Detection], vectors: np.ndarray, image_shape: tuple[int, int],
               now: float) -> tuple[TeachStatus | None, Collected | None]:
        s = self.session
        if s is None:
            return None, None
        label, need = s.command.label, s.command.samples
        try:
            added = s.offer(dets, vectors, image_shape, now)
        except TargetLost as exc:
            self.session = None
            return TeachStatus("error", label, f"{exc}; nothing was learned", len(s.vectors), need, s.views), None
        n = len(s.vectors)
        if s.complete:
            self.session = None
            return (TeachStatus("collecting", label, f"collected {n} samples ({s.views} distinct views) of "
                                f"{label!r}; learning", n, need, s.views), Collected(label, s.features(), s.views))
        if not added:
            return self._tick(now), None
        step = max(1, need // 4)  # progress four times per teach, not on every frame
        if n % step == 0:
            return TeachStatus("collecting", label, f"{n}/{need} samples of {label!r}", n, need, s.views), None
        return None, None

    def tick(self, now: float) -> TeachStatus | None:
        """Time out a teach whose target is not seen (or when no frames arrive at all)."""
        with self._lock:
            return self._tick(now)

    def _tick(self, now: float) -> TeachStatus | None:
        s = self.session
        if s is not None and s.expired(now):
            self.session = None
            n, need = len(s.vectors), s.command.samples
            return TeachStatus("error", s.command.label, f"no object to teach as {s.command.label!r} in view for "
                               f"{s.policy.timeout:g} s ({n}/{need} samples); nothing was learned", n, need, s.views)
        return None

    def teaching(self) -> str:
        """The label being taught, or ''."""
        return self.session.command.label if self.session else ""
