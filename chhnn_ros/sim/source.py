"""The simulator as a frame source: ``make_source("sim", ...)`` once this module is imported."""

from __future__ import annotations

from typing import Any

from chhnn_ros.perception.sources import FrameSource, register_source
from chhnn_ros.perception.types import Frame


class SimSource(FrameSource):
    """Frames rendered by :class:`chhnn_ros.sim.scene.SimScene` (with ground-truth boxes in ``truth``)."""

    def __init__(self, **kw: Any) -> None:
        from chhnn_ros.sim.scene import SimScene  # lazy: pybullet is only needed when a sim is opened

        self.scene = SimScene(**kw)

    def read(self) -> Frame | None:
        return self.scene.render()

    def close(self) -> None:
        self.scene.close()


register_source("sim", SimSource)
