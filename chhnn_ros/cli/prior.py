"""``chhnn-prior``: train, save and inspect CH-HNN ANN priors.

    chhnn-prior train --data glyphs --out prior.pt            # pixel-space prior (28×28)
    chhnn-prior train --data npz:feats.npz --out prior.pt     # any features (x_train, y_train)
    chhnn-prior info prior.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

from chhnn_ros.learning.prior import load_prior, mask_stats, save_prior, train_prior


def load_prior_data(spec: str, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(features, labels, description of what the prior saw)."""
    if spec == "glyphs":
        from chhnn_ros.learning.prior_data import LETTERS, glyphs28

        images, y = glyphs28(per_class, seed)
        X = images.reshape(len(images), -1).astype(np.float32) / 255.0
        return X, y, {"data": "glyphs28", "feature": "pixels28", "classes": list(LETTERS),
                      "description": "letters A-Z, a-z rendered from DejaVu fonts (no digits, no garments)"}
    if spec == "sim-random":
        from chhnn_ros.sim.prior_data import random_object_features

        X, y, info = random_object_features(per_class=per_class, seed=seed)
        return X, y, info
    if spec.startswith("npz:"):
        path = spec[4:]
        with np.load(path, allow_pickle=False) as f:
            if "x_train" not in f or "y_train" not in f:
                raise ValueError(f"{path} needs arrays x_train and y_train")
            X = f["x_train"].reshape(len(f["x_train"]), -1).astype(np.float32)
            y = f["y_train"]
        return X, y, {"data": f"npz:{path}", "feature": "user", "classes": sorted(map(str, np.unique(y)))}
    raise ValueError(f"unknown prior data {spec!r}: use glyphs, sim-random or npz:PATH")


def cmd_train(args: argparse.Namespace) -> int:
    hidden = [int(h) for h in args.hidden.split(",")]
    X, y, info = load_prior_data(args.data, args.per_class, args.seed)
    if args.limit:
        pick = np.random.default_rng(args.seed).permutation(len(X))[: args.limit]
        X, y = X[pick], y[pick]
    t0 = time.time()
    prior = train_prior(X, y, hidden, epochs=args.epochs, seed=args.seed, progress=not args.quiet)
    stats = mask_stats(prior, X, y)
    info.update(n_samples=int(len(X)), epochs=args.epochs, seed=args.seed, train_seconds=round(time.time() - t0, 1),
                mask_stats=stats)
    save_prior(prior, args.out, info)
    print(json.dumps({"out": args.out, **{k: v for k, v in info.items() if k != "classes"}}, indent=1))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    prior = load_prior(args.path)
    print(json.dumps({"config": prior.config, "trained_on": getattr(prior, "trained_on", {})}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="chhnn-prior", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train a prior and save it")
    tr.add_argument("--data", default="glyphs", help="glyphs | sim-random | npz:PATH")
    tr.add_argument("--out", required=True)
    tr.add_argument("--hidden", default="256,256", help="SNN hidden layer sizes the masks are for")
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--per-class", type=int, default=200)
    tr.add_argument("--limit", type=int, default=0, help="train on at most N samples (0 = all)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--quiet", action="store_true")
    tr.set_defaults(func=cmd_train)
    inf = sub.add_parser("info", help="print a prior's configuration and training data")
    inf.add_argument("path")
    inf.set_defaults(func=cmd_info)
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"chhnn-prior: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
