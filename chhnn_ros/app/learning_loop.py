"""The classifier's learning thread: teach and forget jobs, one at a time.

Perception only predicts; every change of what the robot knows is a job on
this queue, run by one thread through :class:`~chhnn_ros.app.knowledge.Knowledge`
(copy, fit, compare-and-swap, atomic save), so frames keep flowing while a
class is learned.  Each job ends with exactly one final status.  When a teach
has ended and no job waits, the same thread lets the learner consolidate
(rehearse what it knows, :meth:`Knowledge.consolidate`): the teach's status is
already out, so nobody waits for it, and a command that arrives meanwhile
waits at most one consolidation.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from chhnn_ros.app.knowledge import Knowledge, StaleUpdate
from chhnn_ros.app.teaching import TeachStatus

#: Added to the status of a teach of a new class whose samples were all one view: the class is
#: recognised from about that view only (the learner cannot know how the object looks from
#: elsewhere), and the operator is the one who can fix that.
ONE_VIEW_HINT = ("; all samples were one view, so it is recognised from about that view only: teach it "
                 "again while the object or the camera moves")


@dataclass(frozen=True)
class TeachJob:
    label: str
    features: np.ndarray
    views: int
    encoder: str


@dataclass(frozen=True)
class ForgetJob:
    label: str


Job = TeachJob | ForgetJob


class LearningLoop:
    """Runs jobs in its own thread; ``on_status`` gets each job's final status, ``on_change`` is
    called after every change of the class database."""

    def __init__(self, knowledge: Knowledge, on_status: Callable[[TeachStatus], None],
                 on_change: Callable[[], None], log: Callable[[str], None] = lambda _m: None) -> None:
        self.knowledge, self.on_status, self.on_change, self.log = knowledge, on_status, on_change, log
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.last_ms = 0.0  # duration of the last job (diagnostics)
        self.last_consolidate_ms = 0.0
        self._thread = threading.Thread(target=self._run, name="learning", daemon=True)
        self._thread.start()

    def put(self, job: Job) -> None:
        self.jobs.put(job)

    def pending(self) -> int:
        return self.jobs.qsize()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            status = self.run(job)
            self.on_status(status)
            if status.state == "learned" and self.jobs.empty():
                self.consolidate()

    def consolidate(self) -> int:
        """Let the learner consolidate now (in the caller's thread); returns the updates run.  A failure
        is logged and changes nothing."""
        t0 = time.monotonic()
        try:
            steps = self.knowledge.consolidate()
        except StaleUpdate as exc:
            self.log(f"consolidation dropped: {exc}")
            return 0
        except Exception as exc:  # noqa: BLE001 - the learning thread must survive it; the learner is unchanged
            self.log(f"consolidation failed, nothing changed: {exc}")
            return 0
        self.last_consolidate_ms = 1e3 * (time.monotonic() - t0)
        if steps:
            self.log(f"consolidated: {steps} replay steps over the known classes in "
                     f"{self.last_consolidate_ms / 1e3:.2f} s")
        return steps

    def run(self, job: Job) -> TeachStatus:
        """Apply one job now (in the caller's thread) and return its final status."""
        t0 = time.monotonic()
        k = self.knowledge
        try:
            if isinstance(job, TeachJob):
                new = job.label not in k.classes()
                version = k.teach(job.label, job.features, job.encoder)
                n = len(job.features)
                text = (f"learned {job.label!r} from {n} samples ({job.views} distinct views) in "
                        f"{time.monotonic() - t0:.2f} s")
                if new and job.views == 1 and n > 1:  # a known class keeps the views it had
                    text += ONE_VIEW_HINT
                status = TeachStatus("learned", job.label, text, n, n, job.views)
            else:
                version = k.forget(job.label)
                status = TeachStatus("forgotten", job.label, f"forgot {job.label!r}")
        except Exception as exc:  # a failed update keeps the previous learner
            what = "teach" if isinstance(job, TeachJob) else "forget"
            return TeachStatus("error", job.label, f"{what} {job.label!r} failed, nothing changed: {exc}")
        finally:
            self.last_ms = 1e3 * (time.monotonic() - t0)
        self.log(f"{status.state} {job.label!r}: database version {version}")
        self.on_change()
        return status

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the running job (it saves), drop nothing queued before it, then end the thread."""
        self.jobs.put(None)
        self._thread.join(timeout)
