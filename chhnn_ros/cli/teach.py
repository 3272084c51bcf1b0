"""chhnn-teach: teach, forget or list classes without the ros2 CLI.

    chhnn-teach cup                 # teach the object now in view as "cup"
    chhnn-teach cup --track-id 3    # a specific object (or --box X1 Y1 X2 Y2)
    chhnn-teach --forget cup
    chhnn-teach --list
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import rclpy

from chhnn_ros.ros import qos
from chhnn_ros.ros.dds import configure_process
from chhnn_ros.ros.probe import Probe
from chhnn_ros.ros.runtime import init

DISCOVERY_S = 10.0  # how long to wait for the classifier's service or teach subscription to appear


def build_command(args: argparse.Namespace) -> dict:
    if args.forget:
        return {"forget": args.forget}
    cmd: dict = {"label": args.label}
    if args.samples:
        cmd["samples"] = args.samples
    if args.box:
        cmd["box"] = args.box
    if args.track_id is not None:
        cmd["track_id"] = args.track_id
    return cmd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="chhnn-teach", description=__doc__.split("\n")[0])
    ap.add_argument("label", nargs="?", help="name of the object in view")
    ap.add_argument("--forget", metavar="LABEL", help="remove a learned class")
    ap.add_argument("--list", action="store_true", help="print the learned classes")
    ap.add_argument("--samples", type=int, help="crops to learn from (default: the node's teach_samples)")
    ap.add_argument("--box", type=float, nargs=4, metavar=("X1", "Y1", "X2", "Y2"))
    ap.add_argument("--track-id", type=int)
    ap.add_argument("--namespace", default="chhnn", help="namespace of the classifier (default: chhnn)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the teach's result")
    argv = sys.argv[1:] if argv is None else argv
    ros_args = argv[argv.index("--ros-args"):] if "--ros-args" in argv else []
    args = ap.parse_args(argv[: len(argv) - len(ros_args)])
    if sum(map(bool, (args.label, args.forget, args.list))) != 1:
        ap.error("give exactly one of LABEL, --forget LABEL, --list")
    configure_process()
    init(["chhnn-teach", *ros_args])
    ns = "/" + args.namespace.strip("/") if args.namespace.strip("/") else ""
    where = f"namespace {ns or '/'}, ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID', '0')}"
    probe = Probe("chhnn_teach_cli")
    try:
        if args.list:
            try:
                print(json.dumps(probe.list_classes(f"{ns}/classifier/list_classes", DISCOVERY_S)))
            except TimeoutError:
                print(f"no classifier answers on {ns}/classifier/list_classes ({where}): is the graph running?",
                      file=sys.stderr)
                return 1
            return 0
        probe.record(f"{ns}/teach_status", qos_profile=qos.command_qos(), kind="teach_status")
        if not probe.wait_for(lambda: probe.count_subscribers(f"{ns}/teach") > 0, DISCOVERY_S):
            print(f"no classifier subscribes to {ns}/teach ({where}): is the graph running?", file=sys.stderr)
            return 1
        final = probe.command(f"{ns}/teach", f"{ns}/teach_status", build_command(args), args.timeout)
        if final is None:
            print(f"no result within {args.timeout:g} s: is the classifier running ({where})?", file=sys.stderr)
            return 2
        print(f"{final['state']}: {final['message']}")
        return 0 if final["state"] in ("learned", "forgotten") else 1
    finally:
        probe.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
