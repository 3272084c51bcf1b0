"""chhnn-demo: robot tasks driven by classes taught by name (PyBullet + the real ROS 2 nodes in-process).

    chhnn-demo arm --episodes 3 --json arm.json           # teach, then "put the <name> in the bin"
    chhnn-demo quadruped --episodes 1 --json quad.json    # patrol a row, one class taught mid-run
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chhnn_ros.demos import arm, quadruped

ROBOTS = {"arm": ("panda", "kuka"), "quadruped": ("a1", "laikago")}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="chhnn-demo", description=__doc__.split("\n")[0])
    ap.add_argument("task", choices=tuple(ROBOTS))
    ap.add_argument("--episodes", type=int, default=3, help="arm: fetch requests; quadruped: patrols (default 3)")
    ap.add_argument("--json", type=Path, help="write the result here")
    ap.add_argument("--robot", help="arm: panda|kuka (default panda); quadruped: a1|laikago (default a1)")
    ap.add_argument("--objects", help="comma-separated catalogue objects (arm: taught objects; quadruped: "
                    "classes, the last one taught mid-run)")
    ap.add_argument("--learner", default="chhnn", help="classifier learner (default chhnn)")
    ap.add_argument("--encoder", default="efficientnet-onnx", help="encoder node's encoder (default efficientnet-onnx)")
    ap.add_argument("--teach-samples", type=int, default=12, help="crops collected per teach (default 12)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--namespace", default="chhnn_demo", help="namespace of the demo's nodes (default chhnn_demo)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    robot = args.robot or ROBOTS[args.task][0]
    if robot not in ROBOTS[args.task]:
        ap.error(f"--robot for {args.task} must be one of {', '.join(ROBOTS[args.task])}")
    if args.episodes < 1 or args.teach_samples < 1:
        ap.error("--episodes and --teach-samples must be >= 1")
    default = arm.DEFAULT_OBJECTS if args.task == "arm" else quadruped.DEFAULT_CLASSES
    objects = [s.strip() for s in args.objects.split(",") if s.strip()] if args.objects else list(default)
    if len(set(objects)) != len(objects) or len(objects) < 2:
        ap.error("--objects needs at least two distinct names")
    from chhnn_ros.sim.objects import check_objects

    try:
        check_objects(objects)
    except ValueError as exc:
        ap.error(str(exc))
    from chhnn_ros.demos.graph import PerceptionGraph

    scene_objects = objects if args.task == "arm" else quadruped.scene_objects(objects)
    with PerceptionGraph(robot, scene_objects, namespace=args.namespace, learner=args.learner,
                         encoder=args.encoder, teach_samples=args.teach_samples, seed=args.seed) as graph:
        if args.task == "arm":
            result = arm.run(graph, objects, args.episodes, args.seed)
        else:
            result = quadruped.run(graph, objects, args.episodes, args.seed)
    result.update(learner=args.learner, encoder=args.encoder, teach_samples=args.teach_samples, seed=args.seed)
    key = "success_rate" if args.task == "arm" else "recognition_acc"
    print(f"{args.task} ({robot}, {args.learner}): {key} {result[key]:.3f} over {result['episodes']} episode(s) "
          f"in {result['seconds']:.0f} s", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
