"""Find the package's share directory (config/, launch/) wherever it is installed.

Order: the ament index (a colcon/ROS install), ``sys.prefix/share/chhnn_ros``
(``pip install .`` into a venv: the ROS wheels do not set
AMENT_PREFIX_PATH), then the source tree (editable install or a checkout).
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE = "chhnn_ros"


def share_dir() -> Path:
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            return Path(get_package_share_directory(PACKAGE))
        except (PackageNotFoundError, LookupError, ValueError, KeyError, OSError):  # OSError: no AMENT_PREFIX_PATH
            pass
    except ImportError:
        pass
    candidates = [Path(sys.prefix) / "share" / PACKAGE, Path(__file__).resolve().parents[2]]
    for c in candidates:
        if (c / "config" / "perception.yaml").is_file():
            return c
    raise FileNotFoundError(f"cannot find the {PACKAGE} share directory (config/perception.yaml); looked in the "
                            f"ament index and {', '.join(map(str, candidates))}")


def config_file(name: str) -> Path:
    path = share_dir() / "config" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    return path
