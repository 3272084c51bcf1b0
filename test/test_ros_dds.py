"""The shipped Fast DDS profile lets a 640×480 rgb8 image cross processes best-effort.

Fast DDS defaults lose best-effort samples above ~512 KB (they leave the 512 KB
shared-memory segment for fragmented UDP): how many get through depends on the
machine's load, so that side is only compared; with
config/fastdds_large_data.xml nearly every frame sent after discovery must arrive.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "config" / "fastdds_large_data.xml"

PUBLISHER = """
import time, numpy as np, rclpy
from sensor_msgs.msg import Image
from chhnn_ros.ros.qos import image_qos
from chhnn_ros.ros.conversions import array_to_image
SENT = 70
rclpy.init()
n = rclpy.create_node("big_pub")
pub = n.create_publisher(Image, "big", image_qos("best_effort"))
img = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
end = time.time() + 30
while pub.get_subscription_count() == 0 and time.time() < end:  # discovery first: count only what can arrive
    time.sleep(0.05)
time.sleep(0.5)
for _ in range(SENT):
    pub.publish(array_to_image(img, "rgb8", n.get_clock().now().to_msg(), "cam"))
    time.sleep(0.05)
time.sleep(0.5)
rclpy.shutdown()
"""

SUBSCRIBER = """
import subprocess, sys, time, rclpy
from sensor_msgs.msg import Image
from chhnn_ros.ros.qos import image_qos
from chhnn_ros.ros.conversions import image_to_rgb8
rclpy.init()
n = rclpy.create_node("big_sub")
got = []
n.create_subscription(Image, "big", lambda m: got.append(image_to_rgb8(m).shape), image_qos("best_effort"))
pub = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
while pub.poll() is None:
    rclpy.spin_once(n, timeout_sec=0.05)
end = time.time() + 1.0
while time.time() < end:
    rclpy.spin_once(n, timeout_sec=0.05)
assert all(s == (480, 640, 3) for s in got)
print(len(got))
"""


def received(with_profile: bool, domain: int) -> int:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("FASTDDS_DEFAULT_PROFILES_FILE", None)
    if with_profile:
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(PROFILE)
    out = subprocess.run([sys.executable, "-c", SUBSCRIBER, PUBLISHER], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def test_large_best_effort_images_need_the_profile():
    from chhnn_ros.ros.dds import allocate_domain, release_domain

    domain = allocate_domain()
    sent = 70
    try:
        with_profile = received(True, domain)
        without = received(False, domain)
    finally:
        release_domain(domain)
    print(f"\n640x480 rgb8 best-effort: {with_profile} of ~{sent:.0f} with the profile, {without} without")
    assert with_profile >= 0.75 * sent, f"only {with_profile} of ~{sent:.0f} images arrived with the profile"
    assert with_profile > without
