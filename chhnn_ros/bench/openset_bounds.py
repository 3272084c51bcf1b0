"""``chhnn-bench openset-bounds``: how many never-taught samples could *any* score reject?

``chhnn-bench openset`` measures a learner at its own calibrated threshold.  When it rejects few
unknowns, is the score to blame, the threshold, or the data?  This command teaches one learner
exactly as ``openset`` does, then ranks the same test samples by its known-ness and by reference
scores that keep every training sample of the known classes (no memory budget, no continual
learning):

* ``knn-cos`` / ``knn-l2``: distance to the nearest training sample (cosine / Euclidean);
* ``gauss-full``: the largest class log-density under per-class Gaussians with a full, Ledoit-Wolf
  shrunk covariance;
* ``mlp-knn-cos`` / ``mlp-max-logit``: a two-layer MLP trained jointly on all known classes (Adam,
  30 epochs), cosine distance to the 10th nearest training sample in its penultimate layer (Sun et
  al., ICML 2022) and its largest logit.

Every score is judged with the learner's own class decisions (a rejected known sample is a lost
right answer only where the learner named it right).  Per score: ``auroc``; ``reject_at_budget``,
the unknowns rejected at the best threshold chosen **on the test set itself** such that known
accuracy drops by at most ``--budget`` points (an oracle no deployed learner has: an upper bound),
with ``known_loss_at_budget``; and ``reject_at_2pct``, the unknowns rejected at the threshold that
rejects 2 % of the known test samples (the rate the learners calibrate for).

Writes ``DIR/<stream>-openset-bounds.json`` and ``.md``::

    chhnn-bench openset-bounds --quick --stream split-mnist --out docs/results/openset-bounds
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chhnn_ros.bench.openset import OpenSetData, load_openset, score_test, teach_known
from chhnn_ros.learning.base import KNOWN_QUANTILE

SCORES = ("learner", "knn-cos", "knn-l2", "gauss-full", "mlp-knn-cos", "mlp-max-logit")
MLP_EPOCHS, MLP_HIDDEN, MLP_KNN = 30, 256, 10


def reject_within_budget(score: np.ndarray, known: np.ndarray, correct: np.ndarray,
                         budget: float) -> tuple[float, float]:
    """(unknowns rejected, known accuracy lost) at the threshold that rejects the most unknowns while
    known accuracy (right and accepted, over known samples) drops by at most ``budget`` (a fraction).
    Samples at the threshold are accepted; every distinct known score is tried as a threshold."""
    score, known, correct = np.asarray(score, np.float64), np.asarray(known, bool), np.asarray(correct, bool)
    ks, kc = score[known], correct[known]
    order = np.argsort(ks, kind="stable")
    ks, kc = ks[order], kc[order]
    # Threshold at the i-th smallest known score: the i knowns below it are rejected.
    lost = np.concatenate([[0], np.cumsum(kc)]) / len(ks)  # accuracy lost by rejecting the first i
    candidates = np.concatenate([ks, [np.inf]])
    unknown = np.sort(score[~known])
    best = (0.0, 0.0)
    for i in range(len(candidates)):
        if i and candidates[i] == candidates[i - 1]:
            continue  # ties: the threshold sits at the first of them
        if lost[i] > budget + 1e-12:
            break
        rejected = np.searchsorted(unknown, candidates[i], side="left") / len(unknown)
        if rejected > best[0]:
            best = (float(rejected), float(lost[i]))
    return best


def reject_at_known_rate(score: np.ndarray, known: np.ndarray, rate: float) -> float:
    """Unknowns rejected at the threshold that rejects ``rate`` of the known samples."""
    score, known = np.asarray(score, np.float64), np.asarray(known, bool)
    thr = np.quantile(score[known], rate)
    return float((score[~known] < thr).mean())


def _knn_score(train: np.ndarray, test: np.ndarray, k: int, metric: str) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    from chhnn_ros.perception.encoders.base import l2_normalize

    if metric == "cosine":  # Euclidean on unit vectors orders as cosine distance does
        train, test = l2_normalize(train), l2_normalize(test)
    dist, _ = NearestNeighbors(n_neighbors=min(k, len(train))).fit(train).kneighbors(test)
    return -dist[:, -1]


def _gauss_full(train: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
    from sklearn.covariance import LedoitWolf

    out = np.full(len(test), -np.inf)
    for c in np.unique(y):
        lw = LedoitWolf().fit(train[y == c])
        z = test - lw.location_
        _, logdet = np.linalg.slogdet(lw.covariance_)
        out = np.maximum(out, -0.5 * (np.einsum("ij,jk,ik->i", z, lw.precision_, z) + logdet))
    return out


def _mlp_scores(train: np.ndarray, y: np.ndarray, test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    import torch

    torch.manual_seed(seed)
    classes, yi = np.unique(y, return_inverse=True)
    body = torch.nn.Sequential(torch.nn.Linear(train.shape[1], MLP_HIDDEN), torch.nn.ReLU(),
                               torch.nn.Linear(MLP_HIDDEN, MLP_HIDDEN), torch.nn.ReLU())
    head = torch.nn.Linear(MLP_HIDDEN, len(classes))
    opt = torch.optim.Adam([*body.parameters(), *head.parameters()], 1e-3)
    x, t = torch.from_numpy(np.asarray(train, np.float32)), torch.from_numpy(yi.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(MLP_EPOCHS):
        for b in torch.randperm(len(x), generator=gen).split(64):
            loss = torch.nn.functional.cross_entropy(head(body(x[b])), t[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        f_train = body(x).numpy()
        f_test = body(torch.from_numpy(np.asarray(test, np.float32)))
        logits = head(f_test).numpy()
    return {"mlp-knn-cos": _knn_score(f_train, f_test.numpy(), MLP_KNN, "cosine"), "mlp-max-logit": logits.max(1)}


def bounds(data: OpenSetData, method: str, seed: int, teach_size: int, budget: float) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    correct, learner_score, _ = score_test(teach_known(method, seed, data, teach_size), data)
    train, y = np.asarray(data.X_train, np.float64), np.asarray(data.stream.y_train, dtype=object).astype(str)
    test = np.asarray(data.X_test, np.float64)
    makers: list[Callable[[], dict[str, np.ndarray]]] = [
        lambda: {"learner": learner_score},
        lambda: {"knn-cos": _knn_score(train, test, 1, "cosine"), "knn-l2": _knn_score(train, test, 1, "l2")},
        lambda: {"gauss-full": _gauss_full(train, y, test)},
        lambda: _mlp_scores(train, y, test, seed),
    ]
    scores: dict[str, Any] = {}
    for make in makers:
        t0 = time.perf_counter()
        for name, s in make().items():
            s = np.nan_to_num(s, nan=-np.inf)
            rejected, lost = reject_within_budget(s, data.known, correct, budget)
            scores[name] = {"auroc": float(roc_auc_score(data.known, np.clip(s, -1e300, 1e300))),
                            "reject_at_budget": rejected, "known_loss_at_budget": lost,
                            "reject_at_2pct": reject_at_known_rate(s, data.known, KNOWN_QUANTILE),
                            "seconds": time.perf_counter() - t0}
    return {"known_acc_closed": float(correct[data.known].mean()), "scores": scores}


def markdown_table(rep: dict[str, Any]) -> str:
    budget = rep["protocol"]["budget_points"]
    lines = [f"Learner `{rep['method']}`, known accuracy {100 * rep['known_acc_closed']:.1f} % without rejection.",
             "",
             f"| score | AUROC | unknowns rejected, best threshold within {budget:g} points (oracle) | "
             "known points lost there | unknowns rejected, 2 % of knowns rejected |",
             "|---|---:|---:|---:|---:|"]
    for name, m in rep["scores"].items():
        lines.append(f"| {name} | {m['auroc']:.3f} | {100 * m['reject_at_budget']:.1f} % | "
                     f"{100 * m['known_loss_at_budget']:.1f} | {100 * m['reject_at_2pct']:.1f} % |")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    from chhnn_ros.bench.cli import FULL_SIZES, QUICK_SIZES, _positive

    p = argparse.ArgumentParser(prog="chhnn-bench openset-bounds", description=__doc__.split("\n\n")[0])
    p.add_argument("--stream", required=True, help="split-mnist, split-fashion, sim-objects or npz:PATH")
    p.add_argument("--method", default="chhnn", help="the learner to compare (default chhnn)")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_SIZES[0]} train / {QUICK_SIZES[1]} test a class")
    p.add_argument("--train-per-class", type=_positive, default=None,
                   help=f"training samples per class (default {FULL_SIZES[0]}, quick {QUICK_SIZES[0]})")
    p.add_argument("--test-per-class", type=_positive, default=None,
                   help=f"test samples per class (default {FULL_SIZES[1]}, quick {QUICK_SIZES[1]})")
    p.add_argument("--teach-size", type=_positive, default=20, help="samples of one class per partial_fit call")
    p.add_argument("--budget", type=float, default=3.0, help="known accuracy points the oracle threshold may cost")
    p.add_argument("--seed", type=int, default=0, help="seed of the learner and the MLP")
    p.add_argument("--data-seed", type=int, default=0, help="seed of sub-sampling and rendering")
    p.add_argument("--out", type=Path, default=Path("bench_results"), help="output directory")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from chhnn_ros.bench import report
    from chhnn_ros.bench.cli import FULL_SIZES, QUICK_SIZES, _resolve_methods

    args = parser().parse_args(argv)
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    n_train, n_test = args.train_per_class or sizes[0], args.test_per_class or sizes[1]
    try:
        if not 0.0 <= args.budget <= 100.0:
            raise ValueError(f"--budget is in points of accuracy, 0-100; got {args.budget}")
        methods = _resolve_methods(args.method)
        if len(methods) != 1:
            raise ValueError(f"--method takes one learner, got {', '.join(methods)}")
        method = methods[0]
        args.out.mkdir(parents=True, exist_ok=True)
        data = load_openset(args.stream, n_train, n_test, data_seed=args.data_seed)
    except (ValueError, OSError) as exc:
        print(f"chhnn-bench openset-bounds: error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    rep: dict[str, Any] = {
        "stream": args.stream, "method": method,
        "protocol": {"known_classes": data.known_classes, "unknown_classes": data.unknown_classes,
                     "train_per_class": n_train, "test_per_class": n_test, "teach_size": args.teach_size,
                     "budget_points": args.budget, "seed": args.seed, "data_seed": args.data_seed,
                     "feature_dim": int(data.X_train.shape[1]), "frontend": data.frontend, "source": data.source},
        "machine": report.machine_info(),
        **bounds(data, method, args.seed, args.teach_size, args.budget / 100.0),
    }
    rep["protocol"]["run_s"] = time.perf_counter() - t0
    slug = data.stream.slug()
    table = markdown_table(rep)
    report.write_json(rep, args.out / f"{slug}-openset-bounds.json")
    (args.out / f"{slug}-openset-bounds.md").write_text(table + "\n")
    print(table)
    print(f"wrote {args.out / (slug + '-openset-bounds.json')}", file=sys.stderr)
    return 0
