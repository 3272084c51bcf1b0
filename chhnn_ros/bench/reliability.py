"""``chhnn-bench reliability``: does the package keep working when a robot runs for
hours and people send it wrong things, and does it never lose a taught class?

    chhnn-bench reliability --quick --json reliability.json
    chhnn-bench reliability --parts kill9,qos --kill9-trials 40

Parts (all real node processes over localhost DDS, their own ROS_DOMAIN_ID):

- ``files``: corrupt/incompatible memory, weights and prior files → clear error, nothing overwritten;
- ``qos``: an incompatible publisher/subscriber on ``image_raw`` → WARNING naming topic and fix (``qos_warning_s``);
- ``kill9``: kill -9 the classifier while it teaches and saves, restart (``kill9_trials``, ``lost_classes``);
- ``fuzz``: ≥ 1,000 generated bad messages into the running graph (``fuzz_messages``, ``fuzz_crashes``),
  then the graph must still label objects;
- ``soak``: the same graph at full rate with a teach every minute (``soak_minutes``, ``rss_growth_pct``).

Prints a markdown table of results against the goals and writes JSON.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chhnn_ros.bench.report import write_results

PARTS = ("files", "qos", "kill9", "fuzz", "soak")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chhnn-bench reliability", description=(
        "Reliability of the node graph: fuzzed inputs, kill -9 during teaching/saving, soak, QoS mismatch, "
        "corrupt files. Prints a table against the goals, writes JSON; exit 1 if a goal is missed."))
    p.add_argument("--quick", action="store_true", help="1-minute soak, 6 kill -9 trials (fuzz keeps 1,000)")
    p.add_argument("--json", type=Path, default=Path("reliability.json"), help="result file")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--soak-minutes", type=float, help="default 10 (quick 1)")
    p.add_argument("--kill9-trials", type=int, help="default 20 (quick 6)")
    p.add_argument("--fuzz-messages", type=int, help="default 2000 (quick 1000)")
    p.add_argument("--learner", default="chhnn", help="classifier learner (default chhnn, the package default)")
    p.add_argument("--rate", type=float, default=10.0, help="camera rate of the graph in Hz (default 10: full rate)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", type=Path, help="keep logs and memory files here (default: a temporary dir)")
    return p


def goals(r: dict[str, Any]) -> list[tuple[str, Any, str, bool | None]]:
    """(metric, value, goal, met) rows; met None when the part did not run."""
    def get(k: str) -> Any:
        return r.get(k)

    def row(metric: str, goal: str, ok) -> tuple[str, Any, str, bool | None]:
        v = get(metric)
        return metric, v, goal, None if v is None else bool(ok(v))

    return [
        row("fuzz_messages", ">= 1000", lambda v: v >= 1000),
        row("fuzz_crashes", "0", lambda v: v == 0),
        row("fuzz_unanswered_teach", "0", lambda v: v == 0),
        row("fuzz_stream_counted_pct", ">= 90", lambda v: v >= 90.0),
        row("labels_after_fuzz", "true", lambda v: v is True),
        row("kill9_trials", ">= 20 (quick: fewer)", lambda v: v >= (20 if not r.get("quick") else 5)),
        row("lost_classes", "0", lambda v: v == 0),
        row("memory_load_failures", "0", lambda v: v == 0),
        row("soak_minutes", ">= 10 (quick: 1)", lambda v: v >= (10 if not r.get("quick") else 0.95)),
        row("rss_growth_pct", "<= 5", lambda v: not math.isnan(v) and v <= 5.0),
        row("soak_log_errors", "0", lambda v: v == 0),
        row("qos_warning_s", "<= 2", lambda v: v is not None and v <= 2.0),
        row("qos_warning_publisher_s", "<= 2", lambda v: v is not None and v <= 2.0),
        row("file_cases_failed", "0", lambda v: v == 0),
    ]


def markdown(r: dict[str, Any]) -> str:
    lines = ["| metric | value | goal | met |", "|---|---|---|---|"]
    for metric, v, goal, ok in goals(r):
        shown = "not run" if v is None else (f"{v:.3g}" if isinstance(v, float) else str(v))
        lines.append(f"| {metric} | {shown} | {goal} | {'—' if ok is None else 'yes' if ok else 'NO'} |")
    return "\n".join(lines)


def _graph_parts(r: dict[str, Any], args: argparse.Namespace, parts: set[str], work: Path, domain: int) -> None:
    from chhnn_ros.bench.graph_checks import teach_visible, valid
    from chhnn_ros.bench.reliability_fuzz import generate, summary
    from chhnn_ros.bench.reliability_fuzzrun import run_fuzz
    from chhnn_ros.bench.reliability_soak import run_soak
    from chhnn_ros.graph import NODES, Graph

    params = {"camera": {"rate": args.rate}, "encoder": {"device": "cpu"},
              "classifier": {"learner": args.learner, "memory_path": str(work / "graph" / "memory.pt"),
                             "teach_samples": 5, "teach_timeout": 3.0, "teach_interval": 0.0}}
    g = Graph(work / "graph", params, namespace="rf", domain=domain, record=("truth", "features", "detections"))
    try:
        if not g.wait_objects(180.0):
            raise RuntimeError(f"the graph produced no objects in 180 s: {g.logs()}")
        s = teach_visible(g, "before_fuzz")
        r["teach_before_fuzz"] = s and s["state"]
        if "fuzz" in parts:
            feats = valid(g, "features")
            dim = feats[-1]["dim"] if feats else 1280
            msgs = generate(args.seed, args.fuzz_messages, dim=dim)
            r["fuzz_categories"] = summary(msgs)
            fz = run_fuzz(g, msgs)
            r["fuzz"] = fz
            r["fuzz_messages"] = fz["fuzz_messages"]
            r["fuzz_unanswered_teach"] = fz["fuzz_unanswered_teach"]
            r["fuzz_stream_counted_pct"] = fz["fuzz_stream_counted_pct"]
            r["fuzz_alive"] = g.alive()
            r["fuzz_answering"] = g.answering()
            ans = r["fuzz_answering"]
            r["fuzz_crashes"] = sum(not r["fuzz_alive"][n] or not ans[n] or (n == "classifier" and not ans[
                "classifier_service"]) for n in NODES)  # dead, or alive but no longer answering
            after = teach_visible(g, "after_fuzz")
            classes = g.list_classes()["classes"]
            r["labels_after_fuzz"] = bool(after and after["state"] == "learned" and g.labels_seen("after_fuzz")
                                          and "before_fuzz" in classes)
            r["classes_after_fuzz"] = classes
        if "soak" in parts:
            sk = run_soak(g, args.soak_minutes, teach_every_s=min(60.0, 20.0 * args.soak_minutes))
            r["soak"] = sk
            r["soak_minutes"], r["rss_growth_pct"] = sk["soak_minutes"], sk["rss_growth_pct"]
            r["soak_log_errors"] = sk["log_errors"]
    finally:
        r["graph_exit_codes"] = g.stop()


def run(args: argparse.Namespace) -> dict[str, Any]:
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    r: dict[str, Any] = {"quick": args.quick, "parts": sorted(parts), "learner": args.learner, "seed": args.seed}
    tmp = None
    if args.workdir is None:
        tmp = tempfile.mkdtemp(prefix="chhnn_reliability_")
        work = Path(tmp)
    else:
        work = args.workdir
        work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        if "files" in parts:
            from chhnn_ros.bench.reliability_files import run_file_checks

            fc = run_file_checks(work / "files")
            r["files"] = fc
            r["file_cases_failed"] = fc["file_cases_total"] - fc["file_cases_ok"]
        if parts & {"qos", "kill9", "fuzz", "soak"}:
            _ros_parts(r, args, parts, work)
    finally:
        r["elapsed_s"] = round(time.monotonic() - t0, 1)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return r


def _ros_parts(r: dict[str, Any], args: argparse.Namespace, parts: set[str], work: Path) -> None:
    from chhnn_ros.ros.dds import allocate_domain, release_domain

    domain = allocate_domain()
    try:
        if "qos" in parts:
            from chhnn_ros.bench.reliability_qos import run_qos

            q = run_qos(work / "qos", domain)
            r["qos"] = q
            r["qos_warning_s"], r["qos_warning_publisher_s"] = q["qos_warning_s"], q.get("qos_warning_publisher_s")
        if "kill9" in parts:
            from chhnn_ros.bench.reliability_kill9 import run_kill9

            k = run_kill9(work / "kill9", args.kill9_trials, domain, seed=args.seed, learner=args.learner,
                          log=lambda m: print(m, file=sys.stderr))
            r["kill9"] = k
            r["kill9_trials"], r["lost_classes"] = k["kill9_trials"], k["lost_classes"]
            r["memory_load_failures"] = k["load_failures"]
        if parts & {"fuzz", "soak"}:
            _graph_parts(r, args, parts, work, domain)
    finally:
        release_domain(domain)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.soak_minutes = args.soak_minutes or (1.0 if args.quick else 10.0)
    args.kill9_trials = args.kill9_trials or (6 if args.quick else 20)
    args.fuzz_messages = args.fuzz_messages or (1000 if args.quick else 2000)
    try:
        r = run(args)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"chhnn-bench reliability: error: {exc}", file=sys.stderr)
        return 2
    args.json.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.json, r, markdown(r), "Reliability (chhnn-bench reliability)")
    print(markdown(r))
    print(f"wrote {args.json}", file=sys.stderr)
    met = [ok for _, _, _, ok in goals(r) if ok is not None]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
