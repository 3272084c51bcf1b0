"""chhnn-teach: teach, forget or list classes without the ros2 CLI.

    chhnn-teach cup                 # teach the object now in view as "cup"
    chhnn-teach cup --track-id 3    # a specific object (or --box X1 Y1 X2 Y2)
    chhnn-teach --forget cup
    chhnn-teach --list
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import rclpy

from chhnn_ros.nodes import qos
from chhnn_ros.nodes.probe import Probe
from chhnn_ros.nodes.runtime import init


def build_command(args: argparse.Namespace) -> str:
    if args.forget:
        return json.dumps({"forget": args.forget})
    cmd: dict = {"label": args.label}
    if args.samples:
        cmd["samples"] = args.samples
    if args.box:
        cmd["box"] = args.box
    if args.track_id is not None:
        cmd["track_id"] = args.track_id
    return json.dumps(cmd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="chhnn-teach", description=__doc__.split("\n")[0])
    ap.add_argument("label", nargs="?", help="name of the object in view")
    ap.add_argument("--forget", metavar="LABEL", help="remove a learned class")
    ap.add_argument("--list", action="store_true", help="print the learned classes")
    ap.add_argument("--samples", type=int, help="crops to learn from (default: the node's teach_samples)")
    ap.add_argument("--box", type=float, nargs=4, metavar=("X1", "Y1", "X2", "Y2"))
    ap.add_argument("--track-id", type=int)
    ap.add_argument("--namespace", default="chhnn", help="namespace of the classifier (default: chhnn)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the result")
    argv = sys.argv[1:] if argv is None else argv
    ros_args = argv[argv.index("--ros-args"):] if "--ros-args" in argv else []
    args = ap.parse_args(argv[: len(argv) - len(ros_args)])
    if sum(map(bool, (args.label, args.forget, args.list))) != 1:
        ap.error("give exactly one of LABEL, --forget LABEL, --list")
    init(["chhnn-teach", *ros_args])
    ns = "/" + args.namespace.strip("/") if args.namespace.strip("/") else ""
    probe = Probe("chhnn_teach_cli")
    try:
        if args.list:
            print(json.dumps(probe.list_classes(f"{ns}/classifier/list_classes", args.timeout)))
            return 0
        probe.record(f"{ns}/teach_status", qos_profile=qos.result_qos(), kind="teach_status")
        t0 = time.monotonic()
        probe.publish(f"{ns}/teach", build_command(args))
        want = args.forget or args.label
        final = None

        def done():
            nonlocal final
            for s in probe.messages_of(f"{ns}/teach_status", since=t0):
                if s["label"] in (want, "") and s["state"] != "collecting":
                    final = s
            return final

        if probe.wait_for(done, args.timeout) is None:
            print(f"no result within {args.timeout:g} s: is the classifier running in /{args.namespace}?",
                  file=sys.stderr)
            return 2
        print(f"{final['state']}: {final['message']}")
        return 0 if final["state"] in ("learned", "forgotten") else 1
    finally:
        probe.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
