#!/usr/bin/env bash
# One-command set-up: a virtual environment in .venv with everything the
# package needs (PyTorch CPU-capable build, ROS 2 Kilted rclpy wheels, the
# package's own messages built against them, the ros2 CLI when its wheels are
# at hand, offline weights and data sets), then the embedded demo: the four
# ROS 2 nodes in one process on a simulated PyBullet robot, taught object by
# object over the real teach topic.  No camera, no ROS distro, no network
# beyond the package index.  Safe to run again (only what changed is redone).
#   bash tools/setup.sh            # install + demo
#   CHHNN_SKIP_DEMO=1 bash tools/setup.sh   # install only (CI)
#   CHHNN_VENV=DIR                 # the venv (default .venv)
#   CHHNN_ROS2_WHEELS=DIR          # the ros2 CLI wheels (default ../shared/wheels/ros2-cli, if present)
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
    { apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }; } ||
      echo "setup: chromium not installed (the web console's browser test will be skipped)"
  else
    echo "setup: for the web console's browser test: sudo apt-get install chromium chromium-driver"
  fi
fi

# A C/C++ tool chain and CMake build the package's messages (msg/, srv/).
missing=""
for tool in cmake make cc c++; do command -v "$tool" >/dev/null || missing="$missing $tool"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -q >/dev/null && apt-get install -y -q cmake make gcc g++ >/dev/null
  else
    echo "setup: missing$missing: install them (Debian/Ubuntu: sudo apt-get install cmake make gcc g++)" >&2
    exit 1
  fi
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
VENV=$(cd "$VENV" && pwd)
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade pip
# torchvision (ultralytics needs it) pairs with torch 2.14.1; pin both so pip
# takes the local wheels instead of resolving a different CUDA build.
"$VPY" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
# The package, its dependencies, the pinned ROS 2 Kilted wheels (ros-wheels) and the
# generators that build msg/ and srv/ against them (ros-build); the pins are in setup.py.
# pip builds in build/ here, and setuptools never removes a module from build/lib that the
# source no longer has: start from an empty build/ so the wheel holds exactly the source.
rm -rf build
"$VPY" -m pip install -q ".[ros-wheels,ros-build,test]"

# The ros2 command and launch (pure-Python wheels built from upstream; see their README).
# --no-index --no-deps: their declared dependency names are not those of the index's wheels.
WHEELS=${CHHNN_ROS2_WHEELS:-../shared/wheels/ros2-cli}
if [ -d "$WHEELS" ]; then
  "$VPY" -m pip install -q osrf-pycommon psutil packaging
  "$VPY" -m pip install -q --no-index --no-deps "$WHEELS"/*.whl
elif [ -n "${CHHNN_ROS2_WHEELS:-}" ]; then
  echo "setup: CHHNN_ROS2_WHEELS=$WHEELS is not a directory" >&2
  exit 1
else
  echo "setup: no ros2 CLI wheels in $WHEELS: ros2 / ros2 launch unavailable (chhnn-perception runs the nodes without them)"
fi

# The package's messages and services: CMake against the wheels, installed into the venv
# (chhnn_ros.msg / chhnn_ros.srv in site-packages, libraries in $VENV/lib, definitions in
# share/chhnn_ros). Rebuilt only when an input (definitions, CMake files, the Python and the
# wheels built against) changed or the module does not import.
"$VPY" tools/patch_ros_wheels.py
stamp_file="$VENV/share/chhnn_ros/interfaces.sha256"
stamp=$( (ls msg srv; cat msg/*.msg srv/*.srv CMakeLists.txt package.xml; "$VPY" --version
          "$VPY" -m pip freeze 2>/dev/null | grep -iE '^(ros-|catkin-pkg|empy|lark-parser|numpy)' || true) | sha256sum | cut -d" " -f1)
if [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp" ] || ! (cd / && "$VPY" -c "import chhnn_ros.msg, chhnn_ros.srv") 2>/dev/null; then
  build=$(mktemp -d "${TMPDIR:-/tmp}/chhnn_ros-interfaces.XXXXXX")
  log="$build.log"
  # AMENT_PREFIX_PATH: the generators look up the typesupports in the ament index, which must
  # be the venv's alone (not a ROS 2 distro sourced in this shell).
  if AMENT_PREFIX_PATH="$VENV" cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DCHHNN_INTERFACES_ONLY=ON \
       -DCMAKE_INSTALL_PREFIX="$VENV" -DCMAKE_PREFIX_PATH="$VENV" -DPython3_EXECUTABLE="$VPY" >"$log" 2>&1 \
     && AMENT_PREFIX_PATH="$VENV" cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >>"$log" 2>&1 \
     && cmake --install "$build" >>"$log" 2>&1 \
     && (cd / && "$VPY" -c "import chhnn_ros.msg, chhnn_ros.srv") >>"$log" 2>&1; then
    echo "$stamp" >"$stamp_file"
    rm -rf "$build" "$log"
  else
    tail -n 40 "$log" >&2
    echo "setup: building msg/ and srv/ failed; full log: $log (build tree: $build)" >&2
    exit 1
  fi
fi

# `ros2` and `ros2 launch` in every shell that activates the venv: bin/activate sources chhnn-env.
install -m 644 tools/chhnn-env.sh "$VENV/bin/chhnn-env"
hook='. "$VIRTUAL_ENV/bin/chhnn-env"  # chhnn_ros: AMENT_PREFIX_PATH, Fast DDS profile (tools/setup.sh)'
grep -qxF "$hook" "$VENV/bin/activate" || printf '\n%s\n' "$hook" >>"$VENV/bin/activate"

if [ -z "${CHHNN_SKIP_DEMO:-}" ]; then
  export YOLO_OFFLINE=1 HF_HUB_OFFLINE=1
  mkdir -p results
  "$VENV/bin/chhnn-perception" --teach-demo --max-classes 4 --json results/teach_demo.json
fi
