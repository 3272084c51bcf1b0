"""``chhnn-bench``: benchmarks of the continual learners (no ROS needed).

Sub-commands are looked up in :data:`COMMANDS` (name → help, ``module:function``);
each function takes the remaining argv and returns an exit code, so a new
benchmark is one dict entry plus a module.  Example::

    chhnn-bench cl --stream split-mnist --scenario class-il \\
        --methods chhnn,ncm,slda,ewc,si,finetune --seeds 3 --out results/
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

COMMANDS: dict[str, tuple[str, str]] = {
    "cl": ("continual-learning accuracy / forgetting benchmark", "chhnn_ros.bench.cli:cl_main"),
    "perf": ("latency and throughput of the perception pipeline", "chhnn_ros.bench.perf:main"),
    "reliability": ("long-running reliability benchmark", "chhnn_ros.bench.reliability:main"),
    "robustness": ("robustness to image corruptions", "chhnn_ros.bench.robustness:main"),
    "scale": ("teach and predict cost, memory file size up to hundreds of classes", "chhnn_ros.bench.scale:main"),
    "ablation": ("CH-HNN mechanism and memory ablations over streams and seeds", "chhnn_ros.bench.ablation:main"),
    "openset": ("open set: known vs never-taught classes, calibrated rejection", "chhnn_ros.bench.openset:main"),
    "openset-bounds": ("open set: what reference scores with every training sample could reject",
                       "chhnn_ros.bench.openset_bounds:main"),
}
DEFAULT_METHODS = "chhnn,ncm,slda,ewc,si,finetune"
FULL_SIZES = (1000, 500)  # train / test samples per class
QUICK_SIZES = (200, 200)


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def cl_parser() -> argparse.ArgumentParser:
    from chhnn_ros.bench.protocol import SCENARIOS
    from chhnn_ros.bench.streams import STREAMS
    from chhnn_ros.perception.frontends import FRONTENDS

    p = argparse.ArgumentParser(
        prog="chhnn-bench cl",
        description="Online continual-learning benchmark: teaches of one class at a time, single pass, "
        "accuracy matrix after every step, metrics over seeds.",
    )
    p.add_argument("--stream", required=True, help=f"one of {', '.join(STREAMS)}")
    p.add_argument("--scenario", default="class-il", choices=SCENARIOS)
    p.add_argument("--methods", default=DEFAULT_METHODS,
                   help="comma-separated registry names or variants NAME[key=value,...] "
                   f"(e.g. 'chhnn[memory_per_class=20],ncm'), or 'all' (default {DEFAULT_METHODS})")
    p.add_argument("--method-params", action="append", metavar="'METHOD: {key: value}'",
                   help="constructor parameters of one method of --methods as YAML/JSON, e.g. "
                   "'chhnn: {memory_per_class: 20}' (repeatable; recorded in the JSON report)")
    p.add_argument("--seeds", type=_positive, default=None, help="number of seeds 0..N-1 (default 3; 1 with --quick)")
    p.add_argument("--out", type=Path, default=Path("bench_results"), help="output directory")
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_SIZES[0]} train / {QUICK_SIZES[1]} test samples per class, 1 seed")
    p.add_argument("--classes-per-step", type=_positive, default=2, help="classes per step (1 = one class per step)")
    p.add_argument("--frontend", choices=FRONTENDS, default=None,
                   help="pixels (MNIST-like default) or efficientnet (sim-objects default)")
    p.add_argument("--train-per-class", type=_positive, default=None,
                   help=f"training samples per class (default {FULL_SIZES[0]}, quick {QUICK_SIZES[0]})")
    p.add_argument("--test-per-class", type=_positive, default=None,
                   help=f"test samples per class (default {FULL_SIZES[1]}, quick {QUICK_SIZES[1]})")
    p.add_argument("--teach-size", type=_positive, default=20, help="samples of one class per partial_fit call")
    p.add_argument("--shuffle-classes", action="store_true", help="seeded shuffle of the class order")
    p.add_argument("--data-seed", type=int, default=0, help="seed of sub-sampling, class shuffle, permutations")
    p.add_argument("--permutations", type=_positive, default=5, help="permuted-mnist: number of steps")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    return p


def _resolve_methods(spec: str, method_params: Sequence[str] | None = None) -> list[str]:
    """Canonical method/variant names of ``--methods`` (+ ``--method-params``); see :mod:`chhnn_ros.bench.variants`."""
    from chhnn_ros.bench.variants import parse_method_params, resolve_methods

    return resolve_methods(spec, parse_method_params(method_params))


@dataclass
class ClSetup:
    """One stream configuration of the CL protocol, features computed."""

    stream: Any
    X_train: np.ndarray
    X_test: np.ndarray
    frontend: str
    scenario: str
    protocol: dict[str, Any]


def prepare_cl(stream_name: str, scenario: str = "class-il", classes_per_step: int = 2, quick: bool = False,
               train_per_class: int | None = None, test_per_class: int | None = None, teach_size: int = 20,
               shuffle_classes: bool = False, data_seed: int = 0, permutations: int = 5,
               frontend: str | None = None) -> ClSetup:
    """Load a stream and its features as ``chhnn-bench cl`` does (raises ``ValueError``/``OSError``)."""
    from chhnn_ros.bench.streams import as_domain_incremental, load_stream
    from chhnn_ros.perception.frontends import apply_frontend

    sizes = QUICK_SIZES if quick else FULL_SIZES
    n_train = train_per_class or sizes[0]
    n_test = test_per_class or sizes[1]
    if stream_name == "permuted-mnist" and scenario == "class-il":
        raise ValueError("permuted-mnist shares its labels across steps: use --scenario domain-il or task-il")
    stream = load_stream(stream_name, classes_per_step=classes_per_step, train_per_class=n_train,
                         test_per_class=n_test, shuffle_classes=shuffle_classes, data_seed=data_seed,
                         n_permutations=permutations)
    if scenario == "domain-il":
        stream = as_domain_incremental(stream)
    frontend = frontend or stream.default_frontend
    t0 = time.perf_counter()
    X_train = apply_frontend(frontend, stream.x_train, f"{stream.slug()}-train")
    X_test = apply_frontend(frontend, stream.x_test, f"{stream.slug()}-test")
    protocol = {
        "teach_size": teach_size,
        "single_pass": True,
        "train_per_class": n_train,
        "test_per_class": n_test,
        "classes_per_step": None if stream.name == "permuted-mnist" else classes_per_step,
        "n_steps": stream.n_steps,
        "steps": stream.steps,
        "n_train": len(X_train),
        "n_test": len(X_test),
        "feature_dim": int(X_train.shape[1]),
        "data_seed": data_seed,
        "shuffle_classes": shuffle_classes,
        "quick": quick,
        "source": stream.source,
        "frontend_s": time.perf_counter() - t0,
    }
    return ClSetup(stream, X_train, X_test, frontend, scenario, protocol)


def run_cl(setup: ClSetup, methods: Sequence[str], seeds: Sequence[int], progress: bool = True) -> dict[str, Any]:
    """Run the protocol for every method and seed on ``setup``; the JSON report (not yet written)."""
    from chhnn_ros.bench import report
    from chhnn_ros.bench.protocol import run_benchmark
    from chhnn_ros.bench.variants import describe

    t0 = time.perf_counter()
    runs, skipped = run_benchmark(list(methods), list(seeds), setup.stream, setup.X_train, setup.X_test,
                                  setup.scenario, setup.protocol["teach_size"], progress=progress)
    protocol = {**setup.protocol, "seeds": list(seeds), "run_s": time.perf_counter() - t0}
    rep = report.build_report(setup.stream.name, setup.scenario, setup.frontend, protocol, runs, skipped)
    for name, entry in rep["methods"].items():
        entry.update(report.jsonable(describe(name)))
    return rep


def cl_main(argv: Sequence[str] | None = None) -> int:
    parser = cl_parser()
    args = parser.parse_args(argv)
    from chhnn_ros.bench import report

    n_seeds = args.seeds or (1 if args.quick else 3)
    try:
        methods = _resolve_methods(args.methods, args.method_params)
        args.out.mkdir(parents=True, exist_ok=True)  # fail now, not after an hour of training
        setup = prepare_cl(args.stream, args.scenario, args.classes_per_step, args.quick, args.train_per_class,
                           args.test_per_class, args.teach_size, args.shuffle_classes, args.data_seed,
                           args.permutations, args.frontend)
    except (ValueError, OSError) as exc:
        print(f"chhnn-bench cl: error: {exc}", file=sys.stderr)
        return 2

    stream, X_train = setup.stream, setup.X_train
    print(f"{stream.name} {args.scenario}: {stream.n_steps} steps {stream.steps}, {len(X_train)} train / "
          f"{len(setup.X_test)} test samples, {X_train.shape[1]}-d {setup.frontend} features; methods "
          f"{', '.join(methods)}; {n_seeds} seed(s)", file=sys.stderr)
    rep = run_cl(setup, methods, range(n_seeds), progress=not args.no_progress)
    rep["protocol"]["method_params"] = list(args.method_params or [])
    try:
        paths = report.write_all(rep, args.out, stream.slug(), plots=not args.no_plots)
    except OSError as exc:
        print(report.markdown_table(rep))
        print(f"chhnn-bench cl: error: cannot write results to {args.out}: {exc}", file=sys.stderr)
        return 1
    print(report.markdown_table(rep))
    for why_name, why in rep["skipped"].items():
        print(f"skipped {why_name}: {why.splitlines()[0]}", file=sys.stderr)
    print("wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    return 0


def _load(target: str):  # noqa: ANN202 - returns the sub-command's main
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="chhnn-bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name, (text, _) in COMMANDS.items():
        # add_help=False: `chhnn-bench cl --help` reaches the sub-command's own parser.
        sub.add_parser(name, help=text, add_help=False)
    ns, rest = parser.parse_known_args(argv)
    return int(_load(COMMANDS[ns.command][1])(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
