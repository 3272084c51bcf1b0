"""Is a frame's result still current?  The stale-frame rule of the classifier.

A result whose camera stamp is further than ``max_age`` from the node's clock
comes from a clock mismatch (``use_sim_time`` on some nodes only) or a
backlog: it is still labelled (its stamp says which frame it is) but counted
and reported, so an operator knows.
"""

from __future__ import annotations


class Freshness:
    def __init__(self, max_age: float) -> None:
        self.max_age = max_age  # s; 0 = no check
        self.stale = 0

    def check(self, stamp: float, now: float) -> float | None:
        """The frame's age in s if it is stale (and count it), else None."""
        age = now - stamp
        if self.max_age > 0 and abs(age) > self.max_age:
            self.stale += 1
            return age
        return None
