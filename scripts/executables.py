"""The package's executables: the one list that pip and CMake (colcon) install them from.

`ros2 run chhnn_ros NAME` and launch_ros ``Node(package="chhnn_ros", executable=NAME)``
look for NAME in ``<prefix>/lib/chhnn_ros/``. Each entry below is installed as

- ``pip install .`` (setup.py): the console script ``<prefix>/bin/NAME`` (pip writes it, with
  the venv's interpreter in its ``#!`` line) and the wrapper ``<prefix>/lib/chhnn_ros/NAME``,
  which runs that console script, so it works without activating the venv;
- ``colcon build`` on a ROS 2 distro (CMakeLists.txt): the wrapper ``<prefix>/lib/chhnn_ros/NAME``,
  which runs the function with ``python3`` (there is no console script there).

Adding an executable is one line here. Written by ``python3 scripts/executables.py OUT_DIR``
(CMake) or by setup.py; this file imports nothing but the standard library.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PACKAGE = "chhnn_ros"

EXECUTABLES = {
    # ROS 2 node executables (launch/perception.launch.py, launch/sim.launch.py)
    "camera_node": "chhnn_ros.nodes.camera_node:main",
    "detector_node": "chhnn_ros.nodes.detector_node:main",
    "encoder_node": "chhnn_ros.nodes.encoder_node:main",
    "classifier_node": "chhnn_ros.nodes.classifier_node:main",
    "gz_truth_node": "chhnn_ros.nodes.gz_truth_node:main",  # Gazebo boxes -> truth (sim.launch.py)
    # Tools
    "chhnn-perception": "chhnn_ros.cli.perception:main",
    "chhnn-teach": "chhnn_ros.cli.teach:main",
    "chhnn-detect": "chhnn_ros.cli.detect:main",
    "chhnn-bench": "chhnn_ros.bench.cli:main",
    "chhnn-prior": "chhnn_ros.cli.prior:main",
    "chhnn-demo": "chhnn_ros.cli.demo:main",
}

_NAME = re.compile(r"[A-Za-z][\w-]*")
_TARGET = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)")

WRAPPER = """\
#!/bin/sh
# {name}: runs {target}. Written from scripts/executables.py.
# pip install: run the console script that pip put in <prefix>/bin (its #! line names the
# venv's interpreter, so this works without activating the venv); colcon build (no console
# script): run the function with the python3 of the sourced ROS 2 environment.
bin="$(dirname "$0")/../../bin/{name}"
if [ -x "$bin" ]; then exec "$bin" "$@"; fi
exec python3 -c 'import sys; sys.argv[0] = "{name}"; from {module} import {func}; sys.exit({func}())' "$@"
"""


def _split(name: str, target: str) -> tuple[str, str]:
    m = _TARGET.fullmatch(target)
    if not _NAME.fullmatch(name) or m is None:
        raise ValueError(f"executable {name!r} = {target!r}: expected NAME = package.module:function "
                         "(letters, digits, '_', '-' in NAME)")
    return m.group(1), m.group(2)


def console_scripts() -> list[str]:
    """The ``console_scripts`` entry points of setup.py."""
    for name, target in EXECUTABLES.items():
        _split(name, target)
    return [f"{name} = {target}" for name, target in EXECUTABLES.items()]


def wrapper(name: str) -> str:
    """The text of ``<prefix>/lib/chhnn_ros/<name>``."""
    module, func = _split(name, EXECUTABLES[name])
    return WRAPPER.format(name=name, target=EXECUTABLES[name], module=module, func=func)


def write_wrappers(out_dir: str | Path) -> list[Path]:
    """Write one executable wrapper per entry into ``out_dir`` (replacing stale ones)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file() and old.name not in EXECUTABLES:
            old.unlink()
    paths = []
    for name in EXECUTABLES:
        path = out / name
        text = wrapper(name)
        if not path.is_file() or path.read_text() != text:  # unchanged files keep their time stamp
            path.write_text(text)
        path.chmod(0o755)
        paths.append(path)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR  (writes the lib/{PACKAGE} wrappers)")
    for p in write_wrappers(sys.argv[1]):
        print(p)
