"""Catalogue of textured / coloured objects shipped with ``pybullet_data``.

Each entry names a URDF relative to ``pybullet_data.getDataPath()``, the global
scale that makes it a hand-sized object (10-20 cm, what a quadruped or an arm
would meet on the floor) and ``z_offset``: the base height at which the scaled
object rests on the ground when only rotated about z (measured from its AABB,
checked by test_sim_objects.py). ``mini_table`` is the exception: its
collision shape is only the table top, the legs (visual only) reach the ground at base z=0, so it is
static (it would otherwise fall through its own legs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pybullet as p
import pybullet_data


@dataclass(frozen=True)
class SimObject:
    name: str
    urdf: str
    scale: float
    z_offset: float
    static: bool = False  # mass 0: never moved by physics


CATALOGUE: dict[str, SimObject] = {
    o.name: o
    for o in (
        SimObject("duck", "duck_vhacd.urdf", 1.6, 0.048),
        SimObject("teddy", "teddy_vhacd.urdf", 1.6, 0.051),
        SimObject("soccer_ball", "soccerball.urdf", 0.14, 0.070),
        SimObject("mug", "objects/mug.urdf", 1.3, 0.003),
        SimObject("lego", "lego/lego.urdf", 3.0, 0.036),
        SimObject("jenga", "jenga/jenga.urdf", 1.0, 0.015),
        SimObject("tray", "tray/traybox.urdf", 0.25, 0.003),
        SimObject("red_ball", "sphere2red.urdf", 0.1, 0.050),
        SimObject("block", "block.urdf", 1.5, 0.013),
        SimObject("r2d2", "r2d2.urdf", 0.22, 0.105),
        SimObject("domino", "domino/domino.urdf", 3.0, 0.076),
        SimObject("mini_table", "table/table.urdf", 0.12, 0.0, static=True),
        SimObject("blue_blob", "random_urdfs/000/000.urdf", 1.3, 0.023),
    )
}

# Held out of the default stream so "unseen object" evaluation has something unseen.
HELD_OUT_OBJECTS: list[str] = ["domino", "mini_table", "blue_blob"]
DEFAULT_OBJECTS: list[str] = [n for n in CATALOGUE if n not in HELD_OUT_OBJECTS]
OBJECT_NAMES: list[str] = list(CATALOGUE)


def get_object(name: str | SimObject) -> SimObject:
    """Catalogue entry for ``name``; ``ValueError`` listing the valid names otherwise.

    A ``SimObject`` passes through, so tools can render objects outside the
    catalogue (e.g. the prior's training blobs) with the same code."""
    if isinstance(name, SimObject):
        return name
    try:
        return CATALOGUE[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown sim object {name!r}; valid: {', '.join(OBJECT_NAMES)}") from None


def check_objects(names: list[str] | tuple[str, ...]) -> list[str]:
    """Validate a list of object names (non-empty, known) and return it as a list."""
    names = list(names)
    if not names:
        raise ValueError(f"empty object list; valid: {', '.join(OBJECT_NAMES)}")
    for n in names:
        get_object(n)
    return names


def spawn_object(client: int, name: str | SimObject, x: float = 0.0, y: float = 0.0, yaw: float = 0.0) -> int:
    """Load object ``name`` resting on the ground at (x, y) with heading ``yaw``; returns the body id."""
    obj = get_object(name)
    orn = p.getQuaternionFromEuler([0.0, 0.0, yaw])
    body = p.loadURDF(
        f"{pybullet_data.getDataPath()}/{obj.urdf}",
        [x, y, obj.z_offset],
        orn,
        globalScaling=obj.scale,
        physicsClientId=client,
    )
    if obj.static:
        p.changeDynamics(body, -1, mass=0.0, physicsClientId=client)
    return body


def measure_z_offset(client: int, name: str) -> float:
    """Base height that puts the scaled object's lowest point on z=0 (used to fill in / check ``z_offset``)."""
    body = spawn_object(client, name)
    lo = object_aabb(client, body)[0][2]
    base_z = p.getBasePositionAndOrientation(body, physicsClientId=client)[0][2]
    p.removeBody(body, physicsClientId=client)
    return float(base_z - lo)


def object_aabb(client: int, body: int) -> tuple[np.ndarray, np.ndarray]:
    """World AABB (lo, hi) of a body over all its links (``getAABB`` alone covers one link)."""
    links = range(-1, p.getNumJoints(body, physicsClientId=client))
    boxes = [p.getAABB(body, link, physicsClientId=client) for link in links]
    return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)


def object_extent(client: int, body: int) -> np.ndarray:
    """Axis-aligned size (dx, dy, dz) of a body over all its links."""
    lo, hi = object_aabb(client, body)
    return hi - lo
