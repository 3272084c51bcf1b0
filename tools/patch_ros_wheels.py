"""Point the ROS 2 wheels' CMake exports at this venv's Python and numpy headers.

The message wheels' ``share/*/cmake/export_*__rosidl_generator_pyExport.cmake`` name the wheel
builder's include directories (``/opt/python/cp311-cp311/include/python3.11`` and its numpy) in
``INTERFACE_INCLUDE_DIRECTORIES``; CMake refuses an imported target with a missing include
directory, so building any interface package against the wheels fails until they name this
interpreter's ``sysconfig`` include directory and ``numpy.get_include()``.

    python tools/patch_ros_wheels.py      # with the venv's interpreter; idempotent, silent

Exits 1 if a builder path is left anywhere in ``share/*/cmake`` afterwards.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from pathlib import Path

import numpy

BUILDER = "/opt/python/"
PROPERTY = re.compile(r'(INTERFACE_INCLUDE_DIRECTORIES\s+")([^"]*)(")')


def patch(prefix: Path) -> list[Path]:
    """Rewrite every pyExport file under ``prefix/share`` that names the builder; returns them."""
    includes = ";".join([sysconfig.get_paths()["include"], numpy.get_include()])
    changed = []
    for path in sorted(prefix.glob("share/*/cmake/export_*__rosidl_generator_pyExport.cmake")):
        text = path.read_text()
        new = PROPERTY.sub(lambda m: m.group(1) + includes + m.group(3) if BUILDER in m.group(2) else m.group(0),
                           text)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


def leftovers(prefix: Path) -> list[Path]:
    return [p for p in sorted(prefix.glob("share/*/cmake/*.cmake")) if BUILDER in p.read_text()]


def main() -> int:
    prefix = Path(sys.prefix)
    if prefix == Path(sys.base_prefix):
        print("patch_ros_wheels: run it with the venv's python (the ROS 2 wheels live in a venv)", file=sys.stderr)
        return 1
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.is_file():
        print(f"patch_ros_wheels: no {headers}: the interfaces build needs this Python's headers "
              "(Debian/Ubuntu: apt-get install python3-dev)", file=sys.stderr)
        return 1
    patch(prefix)
    left = leftovers(prefix)
    if left:
        print(f"patch_ros_wheels: {BUILDER} is still named in: " + ", ".join(map(str, left)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
