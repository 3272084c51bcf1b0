"""What the classifier knows: the learner, its database version and its
memory file.  No ROS here, so the learning/persistence rules are tested
directly.

Updates are copy-fit-swap: the learning thread fits a copy of the learner
and swaps it in under a lock, so predictions never wait for learning and a
new class is used from the first frame after the swap.  A failed update
leaves the old learner in place.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import numpy as np
import yaml

from chhnn_ros.learning.registry import learner_from_state, make_learner
from chhnn_ros.nodes import memory
from chhnn_ros.nodes.teach import learn


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


def clone(learner):
    """An independent copy, through the state dict (deepcopy of live torch modules
    fails on non-leaf tensors; the deep-copied state shares no array with the original)."""
    return learner_from_state(copy.deepcopy(learner.state_dict()))


class Knowledge:
    def __init__(self, learner: str, learner_params: str, seed: int, memory_path: str,
                 start_empty_on_error: bool) -> None:
        self.learner_name = learner
        self.learner_kw = parse_learner_params(learner_params)
        self.seed = seed
        self.path = memory.expand(memory_path) if memory_path else None
        self.lock = threading.Lock()
        # One save at a time, snapshot taken inside: two concurrent saves (a teach's and ~/save or
        # shutdown) could otherwise finish in the wrong order and leave an older version on disk.
        self.save_lock = threading.Lock()
        self.learner = None
        self.database_version = 0
        self.extra: dict[str, Any] = {}
        self.notice = ""  # what happened at load, for the log
        prior = self.learner_kw.get("prior")
        if isinstance(prior, str) and prior not in ("auto", "random", "none"):
            from chhnn_ros.learning.prior import load_prior

            load_prior(prior)  # a missing/corrupt prior file fails the start, not the first teach an hour later
        self._load(start_empty_on_error)

    def _load(self, start_empty: bool) -> None:
        if self.path is None:
            return
        stale = memory.remove_temp_files(self.path)
        try:
            payload = memory.load(self.path)
            if payload is None:
                self.notice = f"no memory file at {self.path}: starting with no classes"
                return
            learner = learner_from_state(payload["learner_state"])
            if learner.name != self.learner_name:
                raise memory.MemoryFileError(f"{self.path} was written by learner {learner.name!r}, but the "
                                             f"learner parameter is {self.learner_name!r}")
        except (ValueError, KeyError, TypeError) as exc:
            if not start_empty:
                raise memory.MemoryFileError(f"{exc}. Fix or move the file, or set start_empty_on_error: true "
                                             "to keep it aside and start with no classes") from None
            moved = memory.quarantine(self.path)
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

    def predict(self, X: np.ndarray) -> tuple[list, np.ndarray]:
        """Best label and its probability per row; ([], []) before any class."""
        learner = self.learner  # one reference: a concurrent swap cannot split this call
        if learner is None or not learner.classes_ or len(X) == 0:
            return [], np.zeros(0)
        proba = learner.predict_proba(X)
        best = proba.argmax(axis=1)
        return [learner.classes_[i] for i in best], proba[np.arange(len(best)), best]

    # ----------------------------------------------------------------- updates
    def _swap(self, learner, encoder: str | None = None) -> int:
        with self.lock:
            before = self.learner, self.database_version, self.extra
            self.learner = learner
            self.database_version += 1
            if encoder:
                self.extra = {"encoder": encoder, "dim": learner.dim}
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
        current = self.learner
        if current is None:
            new = make_learner(self.learner_name, dim=int(X.shape[1]), seed=self.seed, **self.learner_kw)
        else:
            self.check_features(encoder, int(X.shape[1]))
            new = clone(current)
        learn(new, label, X)
        return self._swap(new, encoder)

    def forget(self, label: str) -> int:
        current = self.learner
        if current is None or label not in current.classes_:
            raise ValueError(f"unknown class {label!r}; known: {self.classes()}")
        new = clone(current)
        new.forget(label)
        return self._swap(new)

    def reset(self) -> int:
        with self.save_lock:  # a save in flight must not bring the file back after the unlink
            with self.lock:
                self.learner = None
                self.database_version += 1
            if self.path is not None:
                self.path.unlink(missing_ok=True)
        return self.database_version

    def save(self) -> str:
        with self.save_lock:
            with self.lock:
                learner, version, extra = self.learner, self.database_version, dict(self.extra)
            if self.path is None:
                return "memory_path is empty: not saved"
            if learner is None:
                return "nothing learned yet: not saved"
            memory.save(self.path, learner.state_dict(), version, extra)
        return f"saved {len(learner.classes_)} classes (database version {version}) to {self.path}"
