"""chhnn-perception: the four nodes (camera, detector, encoder, classifier)
in ONE process (events executor, see runtime.py), with the same names, namespace and
parameters as launch/perception.launch.py, and no ros2 CLI needed.

    chhnn-perception                                 # sim scene, ground-truth boxes, EfficientNet features
    chhnn-perception --params-file my.yaml --ros-args -p learner:=ncm
    chhnn-perception --teach-demo --json teach_demo.json

Before rclpy starts it selects the package's Fast DDS large-data profile and
localhost discovery (unless FASTDDS_DEFAULT_PROFILES_FILE /
ROS_AUTOMATIC_DISCOVERY_RANGE are already set), so 640×480 images also reach
best-effort subscribers in other processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading

from chhnn_ros.nodes.share import config_file


def dds_environment() -> dict[str, str]:
    """The variables this process sets (user settings are kept)."""
    chosen = {}
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ:
        chosen["FASTDDS_DEFAULT_PROFILES_FILE"] = str(config_file("fastdds_large_data.xml"))
    if "ROS_AUTOMATIC_DISCOVERY_RANGE" not in os.environ:
        chosen["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.update(chosen)
    return chosen


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    ros_args = argv[argv.index("--ros-args"):] if "--ros-args" in argv else []
    ap = argparse.ArgumentParser(prog="chhnn-perception", description=__doc__.split("\n")[0])
    ap.add_argument("--params-file", help="node parameters YAML (default: the built-in defaults = "
                    "config/perception.yaml)")
    ap.add_argument("--namespace", default="chhnn", help="namespace of nodes and topics (default: chhnn)")
    ap.add_argument("--teach-demo", action="store_true",
                    help="teach the sim's objects one by one over the teach topic and measure recognition")
    ap.add_argument("--json", default="teach_demo.json", help="teach demo result file")
    ap.add_argument("--views", type=int, default=3, help="teach demo: fresh scenes evaluated after each teach")
    ap.add_argument("--max-classes", type=int, default=0, help="teach demo: stop after this many classes (0: all)")
    args = ap.parse_args(argv[: len(argv) - len(ros_args)])
    return args, ros_args[1:]


def main(argv: list[str] | None = None) -> int:
    args, ros_args = parse(sys.argv[1:] if argv is None else list(argv))
    chosen = dds_environment()  # before rclpy creates any DDS participant
    import rclpy

    from chhnn_ros.nodes.camera_node import CameraNode
    from chhnn_ros.nodes.classifier_node import ClassifierNode
    from chhnn_ros.nodes.detector_node import DetectorNode
    from chhnn_ros.nodes.encoder_node import EncoderNode
    from chhnn_ros.nodes.runtime import init, install_stop_handlers, spin

    rcl = ["chhnn-perception", "--ros-args"]
    if args.namespace.strip("/"):
        rcl += ["-r", f"__ns:=/{args.namespace.strip('/')}"]
    demo_dir = None
    if args.teach_demo:  # start from an empty memory and never touch the user's
        demo_dir = tempfile.TemporaryDirectory(prefix="chhnn_demo_")
        rcl += ["-p", f"memory_path:={demo_dir.name}/memory.pt"]
    if args.params_file:
        rcl += ["--params-file", args.params_file]
    rcl += ros_args
    stop = threading.Event()
    install_stop_handlers(stop)
    init(rcl)
    log = rclpy.logging.get_logger("chhnn_perception")
    if chosen:
        log.info(f"DDS settings: {chosen}")
    nodes = []
    try:
        for cls in (CameraNode, DetectorNode, EncoderNode, ClassifierNode):
            nodes.append(cls())
    except (ValueError, OSError, RuntimeError) as exc:
        log.fatal(f"cannot start: {exc}")
        for n in nodes:
            n.destroy_node()
        rclpy.try_shutdown()
        return 1
    status = [0]
    if args.teach_demo:
        from chhnn_ros.nodes.probe import Probe
        from chhnn_ros.nodes.teach_demo import run_demo

        probe = Probe("teach_demo", spin_self=False)
        nodes.append(probe)

        def demo() -> None:
            try:
                status[0] = run_demo(probe, args.json, views=args.views, max_classes=args.max_classes)
            except Exception as exc:  # report and stop; never hang the process
                log.error(f"teach demo failed: {exc}")
                status[0] = 1
            stop.set()

        threading.Thread(target=demo, name="teach_demo", daemon=True).start()
    spin(nodes, stop)
    if demo_dir is not None:
        demo_dir.cleanup()
    return status[0]


if __name__ == "__main__":
    sys.exit(main())
