"""chhnn-perception: the four nodes (camera, detector, encoder, classifier) in ONE
process, with the same names, namespace and parameters as
launch/perception.launch.py, and no ros2 CLI needed.

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
import sys
import tempfile
import threading
from pathlib import Path


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    ros_args = argv[argv.index("--ros-args"):] if "--ros-args" in argv else []
    ap = argparse.ArgumentParser(prog="chhnn-perception", description=__doc__.split("\n")[0])
    ap.add_argument("--params-file", type=Path, help="node parameters YAML (default: the built-in defaults = "
                    "config/perception.yaml)")
    ap.add_argument("--namespace", default="chhnn", help="namespace of nodes and topics (default: chhnn)")
    ap.add_argument("--teach-demo", action="store_true",
                    help="teach the sim's objects one by one over the teach topic and measure recognition")
    ap.add_argument("--json", default="teach_demo.json", help="teach demo result file")
    ap.add_argument("--views", type=int, default=10, help="teach demo: fresh scenes evaluated after each teach")
    ap.add_argument("--max-classes", type=int, default=0, help="teach demo: stop after this many classes (0: all)")
    args = ap.parse_args(argv[: len(argv) - len(ros_args)])
    return args, [a for a in ros_args[1:] if a != "--ros-args"]


def main(argv: list[str] | None = None) -> int:
    args, ros_args = parse(sys.argv[1:] if argv is None else list(argv))
    from chhnn_ros.ros.dds import configure_process

    chosen = configure_process()  # before rclpy creates any DDS participant
    import rclpy

    from chhnn_ros.graph import Graph
    from chhnn_ros.ros.runtime import fatal, install_stop_handlers

    stop = threading.Event()
    install_stop_handlers(stop)
    work = tempfile.TemporaryDirectory(prefix="chhnn_perception_")
    params = {}
    if args.teach_demo:  # start from an empty memory and never touch the user's
        from chhnn_ros.demos.teach_demo import DEMO_PARAMS

        params = {"**": {**DEMO_PARAMS, "memory_path": f"{work.name}/memory.pt"}}
    try:
        graph = Graph(Path(work.name), params, mode="inprocess", namespace=args.namespace, domain=None,
                      params_file=args.params_file, ros_args=ros_args)
    except Exception as exc:  # any start-up failure: one line saying why
        work.cleanup()
        return fatal(str(exc) or type(exc).__name__)
    log = rclpy.logging.get_logger("chhnn_perception")
    if chosen:
        log.info(f"DDS settings: {chosen}")
    status = [0]
    if args.teach_demo:
        from chhnn_ros.demos.teach_demo import run_demo

        def demo() -> None:
            try:
                status[0] = run_demo(graph, args.json, views=args.views, max_classes=args.max_classes)
            except Exception as exc:  # report and stop; never hang the process
                log.error(f"teach demo failed: {exc}")
                status[0] = 1
            stop.set()

        threading.Thread(target=demo, name="teach_demo", daemon=True).start()
    while not stop.wait(0.2) and graph.context.ok():
        pass
    graph.stop()
    work.cleanup()
    return status[0]


if __name__ == "__main__":
    sys.exit(main())
