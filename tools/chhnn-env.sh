# Environment for the ros2 CLI and launch files in a venv made by tools/setup.sh, which copies
# this file to <venv>/bin/chhnn-env and sources it at the end of <venv>/bin/activate.
# Sourced (POSIX sh, bash, zsh) with the venv active; `. chhnn-env` finds it on PATH.
#
# AMENT_PREFIX_PATH   the ROS 2 wheels install their packages' share/ under the venv prefix but
#                     do not set it: `ros2 launch`, `ros2 pkg`, `ros2 run` and ament_index need it.
# FASTDDS_DEFAULT_PROFILES_FILE
#                     the package's Fast DDS profile (16 MB shared memory + UDP on 127.0.0.1), so
#                     640x480 camera images reach best-effort subscribers in other processes; it
#                     keeps DDS traffic on this machine. Set only if unset: to talk to other
#                     computers, export a profile of your own before activating.
if [ -z "${VIRTUAL_ENV:-}" ]; then
  echo "chhnn-env: activate the venv first (. <venv>/bin/activate)" >&2
  return 1 2>/dev/null || exit 1
fi
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$VIRTUAL_ENV:"*) ;;
  *) export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
if [ -z "${FASTDDS_DEFAULT_PROFILES_FILE:-}" ] \
    && [ -f "$VIRTUAL_ENV/share/chhnn_ros/config/fastdds_large_data.xml" ]; then
  export FASTDDS_DEFAULT_PROFILES_FILE="$VIRTUAL_ENV/share/chhnn_ros/config/fastdds_large_data.xml"
fi
