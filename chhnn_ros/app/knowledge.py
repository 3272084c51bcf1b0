"""What the classifier knows: the learner, its class-database version and its
memory file.  No ROS here, so the learning and persistence rules are tested
directly.

Updates are copy-fit-swap: the learning thread fits a copy of the learner and
swaps it in under a lock, so predictions never wait for learning and a new
class is used from the first frame after the swap.  A swap is a
compare-and-swap on the database version: an update whose base changed while
it was fitted (a reset from the service thread) is dropped, never swapped in
over the reset.  A failed update leaves the old learner in place.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import yaml

from chhnn_ros.app import memory_file
from chhnn_ros.learning.base import Learner
from chhnn_ros.learning.registry import learner_from_state, make_learner


class StaleUpdate(RuntimeError):
    """The class database changed (reset) while an update was being fitted; the update was dropped."""


def parse_learner_params(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        kw = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise ValueError(f"learner_params is not valid YAML/JSON: {exc}") from None
    if not isinstance(kw, dict):
        raise ValueError(f"learner_params must be a mapping, got {text!r}")
    return kw


def learn(learner: Learner, label: str, X: np.ndarray) -> None:
    """One ``partial_fit`` with every collected sample (raises ``ValueError`` on bad features)."""
    learner.partial_fit(X, [label] * len(X))


@dataclass(frozen=True)
class Prediction:
    """Per feature row: the nearest known class, its probability, whether the learner calls the
    row one of its classes (its own calibrated open-set decision) and its known-ness score (higher:
    more like a taught class; 0 is the learner's calibrated threshold)."""

    nearest: list[Any]
    scores: np.ndarray
    known: np.ndarray
    known_scores: np.ndarray

    @classmethod
    def empty(cls, n: int = 0) -> Prediction:
        return cls([None] * n, np.zeros(n), np.zeros(n, bool), np.zeros(n))


class Knowledge:
    def __init__(self, learner: str, learner_params: str, seed: int, memory_path: str,
                 start_empty_on_error: bool, feature_dim: int = 0) -> None:
        self.learner_name = learner
        self.learner_kw = parse_learner_params(learner_params)
        self.seed = seed
        self.path = memory_file.expand(memory_path) if memory_path else None
        self.lock = threading.Lock()
        # One save at a time, snapshot taken inside: two concurrent saves (a teach's and ~/save or
        # shutdown) could otherwise finish in the wrong order and leave an older version on disk.
        self.save_lock = threading.Lock()
        self.learner: Learner | None = None
        self.database_version = 0
        self.extra: dict[str, Any] = {}
        self.notice = ""  # what happened at load, for the log
        self._load(start_empty_on_error)
        # The empty learner is built now, for the features the encoder is expected to send: an unknown
        # learner, a bad learner_params key or value and a missing prior file fail the start, not the
        # first teach an hour later, and the learner's one-off costs are paid before anyone teaches.
        if feature_dim > 0:
            self.prepare(feature_dim)

    def _build(self, dim: int) -> Learner:
        try:
            return make_learner(self.learner_name, dim=dim, seed=self.seed, **self.learner_kw)
        except TypeError as exc:  # an unexpected keyword argument of the learner's constructor
            raise ValueError(f"learner_params for {self.learner_name!r}: {exc}") from None

    def _load(self, start_empty: bool) -> None:
        if self.path is None:
            return
        stale = memory_file.remove_temp_files(self.path)
        try:
            payload = memory_file.load(self.path)
            if payload is None:
                self.notice = f"no memory file at {self.path}: starting with no classes"
                return
            learner = learner_from_state(payload["learner_state"])
            if learner.name != self.learner_name:
                raise memory_file.MemoryFileError(f"{self.path} was written by learner {learner.name!r}, but the "
                                                  f"learner parameter is {self.learner_name!r}")
        except (ValueError, KeyError, TypeError) as exc:
            if not start_empty:
                raise memory_file.MemoryFileError(f"{exc}. Fix or move the file, or set start_empty_on_error: "
                                                  "true to keep it aside and start with no classes") from None
            moved = memory_file.quarantine(self.path)
            self.notice = f"{exc}; moved it to {moved} and started with no classes"
            return
        self.learner, self.database_version = learner, payload["database_version"]
        self.extra = payload.get("extra", {})
        self.notice = f"loaded {len(learner.classes_)} classes (database version {self.database_version}) " \
                      f"from {self.path}" + (f"; removed {len(stale)} temporary file(s) of an interrupted save"
                                             if stale else "")

    # ----------------------------------------------------------------- reading
    def classes(self) -> list:
        learner = self.learner
        return list(learner.classes_) if learner is not None else []

    def check_features(self, encoder: str, dim: int) -> None:
        """Raise ``ValueError`` if the features do not match what was learned."""
        learner = self.learner
        if learner is not None and learner.dim != dim:
            raise ValueError(f"features have dimension {dim} ({encoder}) but the learned classes use "
                             f"{learner.dim} ({self.extra.get('encoder', '?')}): use the same encoder or reset")

    def prepare(self, dim: int) -> bool:
        """Make sure an (empty) learner for ``dim``-d features exists before a teach needs it; a learner
        that knows no class yet is rebuilt for another dimension.  True if one was built."""
        learner = self.learner
        if learner is not None and (learner.classes_ or learner.dim == dim):
            return False
        new = self._build(dim)
        with self.lock:
            if self.learner is learner:
                self.learner = new
        return True

    def predict(self, X: np.ndarray) -> Prediction:
        """The learner's open-set prediction per row (nearest class, its probability, the learner's own
        calibrated known/unknown decision and known-ness); every row unknown before any class."""
        learner = self.learner  # one reference: a concurrent swap cannot split this call
        if learner is None or not learner.classes_ or len(X) == 0:
            return Prediction.empty(len(X))
        p = learner.predict_open_detail(X)
        return Prediction(list(p.nearest), p.nearest_proba, p.accepted, p.known)

    # ----------------------------------------------------------------- updates
    def teaches(self) -> dict[Any, int]:
        """How many teaches each known class has had (0 for classes of a file that did not count them)."""
        counts = self.extra.get("teaches", {})
        return {c: int(counts.get(c, 0)) for c in self.classes()}

    def _swap(self, learner: Learner, base: int, extra: dict[str, Any], new_version: bool = True) -> int:
        with self.lock:
            if self.database_version != base:
                raise StaleUpdate(f"the class database changed (version {base} -> {self.database_version}, a "
                                  "reset) while learning; this update was dropped")
            before = self.learner, self.database_version, self.extra
            self.learner, self.extra = learner, extra
            self.database_version += int(new_version)
            version = self.database_version
        try:
            self.save()
        except BaseException:  # not persisted = not learned: the caller reports "nothing changed"
            with self.lock:
                if self.database_version == version:
                    self.learner, self.database_version, self.extra = before
            raise
        return version

    def teach(self, label: str, X: np.ndarray, encoder: str) -> int:
        """Learn ``label`` from ``X`` (one partial_fit); returns the new database version."""
        X = np.asarray(X, dtype=np.float32)
        with self.lock:
            current, base = self.learner, self.database_version
        if current is None or (not current.classes_ and current.dim != X.shape[1]):
            new = self._build(int(X.shape[1]))
        else:
            self.check_features(encoder, int(X.shape[1]))
            new = current.clone()
        learn(new, label, X)
        teaches = dict(self.extra.get("teaches", {}))
        teaches[label] = teaches.get(label, 0) + 1
        return self._swap(new, base, {**self.extra, "encoder": encoder, "dim": new.dim, "teaches": teaches})

    def forget(self, label: str) -> int:
        with self.lock:
            current, base = self.learner, self.database_version
        if current is None or label not in current.classes_:
            raise ValueError(f"unknown class {label!r}; known: {self.classes()}")
        new = current.clone()
        new.forget(label)
        teaches = {c: n for c, n in self.extra.get("teaches", {}).items() if c != label}
        return self._swap(new, base, {**self.extra, "teaches": teaches})

    def consolidate(self) -> int:
        """The learner's rehearsal without new data (:meth:`Learner.consolidate`) on a copy, swapped in
        and saved like a teach; the classes and the database version stay as they are.  Returns the
        updates run (0: nothing to consolidate, nothing swapped).  Raises :class:`StaleUpdate` if a
        reset landed meanwhile (the consolidation is dropped)."""
        with self.lock:
            current, base, extra = self.learner, self.database_version, self.extra
        if current is None or not current.consolidation_steps():
            return 0
        new = current.clone()
        steps = new.consolidate()
        if steps:
            self._swap(new, base, extra, new_version=False)
        return steps

    def reset(self) -> int:
        """Forget every class and delete the memory file; an update fitted meanwhile is dropped."""
        with self.save_lock:  # a save in flight must not bring the file back after the unlink
            with self.lock:
                self.learner, self.extra = None, {}
                self.database_version += 1
                version = self.database_version
            if self.path is not None:
                self.path.unlink(missing_ok=True)
        return version

    def save(self) -> str:
        with self.save_lock:
            with self.lock:
                learner, version, extra = self.learner, self.database_version, dict(self.extra)
            if self.path is None:
                return "memory_path is empty: not saved"
            if learner is None or not learner.classes_:
                return "nothing learned yet: not saved"
            memory_file.save(self.path, learner.state_dict(), version, extra)
        return f"saved {len(learner.classes_)} classes (database version {version}) to {self.path}"
