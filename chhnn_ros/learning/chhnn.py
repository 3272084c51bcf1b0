"""CH-HNN as an online learner: frozen ANN prior → masks → (metaplastic) SNN.

One ``partial_fit`` call is one teach: a handful of feature vectors of one
(or a few) classes.  The update runs SGD-momentum steps on class-balanced
batches of the taught samples plus pseudo-features of the other classes drawn
from the class memory (:mod:`chhnn_ros.learning.class_memory`: per-class
statistics, 32 KB a class), with per-sample masks from the frozen prior.  A
teach stops once a whole batch is classified correctly by ``stop_margin``,
after ``min_steps`` (``new_min_steps`` for a new class) and at most ``steps``
(``new_steps``).  A new class's output row is imprinted from the mean hidden
spike rate of its samples, so it is usable at once and never competes before it
exists.

Consolidation (:meth:`CHHNN.consolidate`, ``consolidate_steps`` updates): when a
teach has ended the classifier lets the learner replay pseudo-features of all
its classes, off the teach path.  So a new class needs only 5 steps at the
teach (it is separated by then) and the rebalancing of all classes happens
after it.  Measured with ``chhnn-bench ablation --quick --seeds 3`` against 20
steps at the teach and no consolidation: mean final accuracy over the six
streams 86.6 vs 86.4 (split-Fashion with one teach a class 71.9 vs 71.1, its
forgetting 15.1 vs 15.6; no stream worse by more than 0.1); the teach costs about
a third of training it all at the teach (``chhnn-bench perf``: ``teach_ms`` vs
``teach_time_only``).  Replaying 40 steps instead of 20 gave no further gain (2 seeds).  After
consolidating, the learner also draws the old classes' rows and masks of the next teach of a new
class (:mod:`chhnn_ros.learning.replay_plan`): the teach then computes masks for its own rows only.

The step size ``lr`` = 0.1 (sign-like updates: the optimizer normalises by the current gradient's
magnitude) is the measured best of 0.02 / 0.05 / 0.1 / 0.2 (``chhnn-bench ablation --method-params``):
one teach per class gains 1.4-2 points over 0.05 at an unchanged many-teach accuracy; 0.02 loses
9 points there, 0.2 forgets more.

Prediction multiplies the SNN's class probabilities with a vote of the class memory's means
(``prototype_weight``: minus the squared distance to each class mean, z-scored over the classes).
The SNN learns from pseudo-features and drifts with them; the means are exact statistics of what
was taught and cost nothing to keep.  Measured with ``chhnn-bench ablation --quick --seeds 3``
(``full`` vs ``no-vote``): mean final accuracy over the six streams 87.4 vs 86.7 (one teach a class:
split-MNIST 82.6 vs 81.2, split-Fashion 72.9 vs 71.6); under pixel noise σ = 0.1 on the sim objects
98.0 vs 94.7 for the SNN alone (``chhnn-bench robustness --quick``).

Metaplasticity (``meta`` > 0: damping of every update that would shrink a consolidated weight, on
the layers ``meta_layers``) is implemented but off by default: the same ablation measures it at
+0.0 on average (−0.1 to +0.2 per stream; 87.4 with it, 87.3 without), within the seeds' spread.
The masks add 0.3 on average with it (1.7 with one teach a class on split-MNIST) and nothing
without it (87.3 either way: +1.4 there, −0.5 on split-Fashion).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from chhnn_ros.learning.base import CALIBRATION_SIZE, Learner
from chhnn_ros.learning.checks import check_counts, check_fraction, check_hidden, check_optimizer, check_positive
from chhnn_ros.learning.class_memory import MEMORY_KINDS, ExemplarMemory, make_memory
from chhnn_ros.learning.metaplastic import MetaplasticAdam
from chhnn_ros.learning.prior import (
    MaskPrior,
    digest,
    prior_to_state,
    shared_prior,
    shared_prior_from_state,
    shared_random_prior,
)
from chhnn_ros.learning.registry import register
from chhnn_ros.learning.replay_plan import Masks, OldDraw, ReplayPlan, join_masks, make_plan, old_draws, stream_from
from chhnn_ros.learning.snn import SpikingMLP

META_LAYERS = ("all", "hidden", "head")
DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def shipped_priors() -> list[Path]:
    return sorted(DATA_DIR.glob("prior-*.pt"))


def resolve_prior(spec: str, dim: int, hidden: Sequence[int], seed: int) -> tuple[MaskPrior | None, str]:
    """``auto`` | ``random`` | ``none`` | path → (shared prior instance, source).

    The source is what a saved state references: ``shipped:<file>`` (in the package's data),
    ``file:<absolute path>``, ``random`` (embedded in states: not a file) or ``none``.
    """
    if spec == "none":
        return None, "none"
    if spec == "auto":
        for path in shipped_priors():
            prior = shared_prior(path)
            if prior.config["dim"] == dim and tuple(prior.config["layer_sizes"]) == tuple(hidden):
                return prior, f"shipped:{path.name}"
        spec = "random"
    if spec == "random":
        # No trained prior for this feature space: a fixed random MLP still maps
        # similar features to similar masks (it is continuous), but without the
        # learned class structure. Recorded in the state so results say so.
        return shared_random_prior(dim, hidden, seed), "random"
    prior = shared_prior(spec)
    if prior.config["dim"] != dim or tuple(prior.config["layer_sizes"]) != tuple(hidden):
        raise ValueError(
            f"prior {spec} maps {prior.config['dim']}-d features to layers {prior.config['layer_sizes']}, "
            f"but the learner has dim {dim} and hidden {tuple(hidden)}"
        )
    shipped = Path(spec).resolve().parent == DATA_DIR
    return prior, f"shipped:{Path(spec).name}" if shipped else f"file:{Path(spec).resolve()}"


def prior_reference(prior: MaskPrior | None, source: str) -> dict[str, Any] | None:
    """What a state stores about its prior: source + digest, and the weights only when no file holds them."""
    if prior is None:
        return None
    ref: dict[str, Any] = {"source": source, "digest": digest(prior)}
    if not source.startswith(("shipped:", "file:")):
        ref["embedded"] = prior_to_state(prior, getattr(prior, "trained_on", {}))
    return ref


def prior_from_reference(ref: Any) -> tuple[MaskPrior | None, str]:
    """Inverse of :func:`prior_reference` (shared instances; raises ``ValueError`` if the file is
    missing or holds other weights than the state was trained with)."""
    if ref is None:
        return None, "none"
    if not isinstance(ref, dict):
        raise ValueError("CH-HNN state: bad prior reference")
    if ref.get("kind") == "chhnn-prior":  # a state that embedded its prior whatever the source
        return shared_prior_from_state(ref), "embedded"
    source, want = str(ref.get("source", "")), ref.get("digest")
    if "embedded" in ref:
        prior = shared_prior_from_state(ref["embedded"])
    elif source.startswith("shipped:"):
        path = DATA_DIR / source.split(":", 1)[1]
        if not path.is_file():
            raise ValueError(f"the state uses the shipped prior {path.name}, which this installation does not "
                             f"have (in {DATA_DIR}): install the chhnn_ros version that wrote it, or reset")
        prior = shared_prior(path)
    elif source.startswith("file:"):
        prior = shared_prior(source.split(":", 1)[1])  # PriorNotFound (a ValueError) if missing
    else:
        raise ValueError(f"CH-HNN state: prior source {source!r} is neither a file nor embedded")
    if want is not None and digest(prior) != want:
        raise ValueError(f"the prior {source} has digest {digest(prior)}, but the state was trained with "
                         f"digest {want}: restore that prior file (masks from other weights would be wrong)")
    return prior, source


def _learned(logits: torch.Tensor, y: torch.Tensor, margin: float) -> bool:
    """Every sample's true class wins by at least ``margin`` in probability."""
    with torch.no_grad():
        p = F.softmax(logits, dim=1)
        true = p.gather(1, y[:, None]).squeeze(1)
        other = p.scatter(1, y[:, None], -1.0).max(1).values
        return bool(((true - other) > margin).all())


@register
class CHHNN(Learner):
    name = "chhnn"
    # Known-ness comes from the class memory's own statistics (no second copy of class means).
    input_means = False
    held_out_calibration = True  # a new class is calibrated on held-out blocks of its teach

    def __init__(
        self,
        dim: int,
        seed: int = 0,
        hidden: Sequence[int] = (256, 256),
        neuron: str = "lif",
        T: int = 10,
        prior: str = "auto",
        meta: float = 0.0,
        meta_fn: str = "exp",
        meta_layers: str = "head",
        mask_gate: int = 8,
        mask_floor: float = 0.0,
        mask_layers: Sequence[int] | None = None,
        lr: float = 0.1,
        optimizer: str = "sgd",
        steps: int = 20,
        batch: int = 64,
        memory: str = "stats",
        memory_bytes: int = 32768,  # everything stored per class (see memory_bytes_per_class)
        memory_per_class: int = 400,
        current_replay: float = 0.5,
        noise: float = 0.05,
        min_steps: int = 2,
        stop_margin: float = 0.0,
        new_steps: int = 40,
        new_min_steps: int = 5,
        consolidate_steps: int = 20,
        prototype_weight: float = 1.0,
    ) -> None:
        super().__init__(dim, seed)
        hidden = check_hidden(hidden)
        check_counts(steps=steps, new_steps=new_steps, batch=batch, T=T)
        if int(min_steps) < 0 or int(new_min_steps) < 0 or int(consolidate_steps) < 0:
            raise ValueError("min_steps, new_min_steps and consolidate_steps must be >= 0")
        check_fraction("stop_margin", stop_margin, upper_open=True)
        check_fraction("current_replay", current_replay)
        check_optimizer(optimizer)
        check_positive(lr=lr)
        if not float(prototype_weight) >= 0.0:
            raise ValueError(f"prototype_weight must be >= 0 (0 = the SNN alone), got {prototype_weight}")
        if meta_layers not in META_LAYERS:
            raise ValueError(f"meta_layers must be one of {', '.join(META_LAYERS)}, got {meta_layers!r}")
        if not 0.0 <= mask_floor < 1.0:
            raise ValueError("mask_floor must be in [0, 1) (1 would be no mask: use prior: none)")
        mask_layers = list(range(len(hidden))) if mask_layers is None else [int(i) for i in mask_layers]
        if any(not 0 <= i < len(hidden) for i in mask_layers):
            raise ValueError(f"mask_layers must list hidden layers 0..{len(hidden) - 1}, got {mask_layers}")
        if memory not in MEMORY_KINDS:
            raise ValueError(f"memory must be one of {', '.join(MEMORY_KINDS)}, got {memory!r}")
        self.config.update(hidden=hidden, neuron=neuron, T=int(T), prior=str(prior), meta=float(meta),
                           meta_fn=meta_fn, meta_layers=meta_layers, mask_gate=int(mask_gate),
                           mask_floor=float(mask_floor), mask_layers=mask_layers, lr=float(lr), optimizer=optimizer,
                           steps=int(steps), batch=int(batch),
                           memory=memory, memory_bytes=int(memory_bytes), memory_per_class=int(memory_per_class),
                           current_replay=float(current_replay), noise=float(noise),
                           min_steps=int(min_steps), stop_margin=float(stop_margin), new_steps=int(new_steps),
                           new_min_steps=int(new_min_steps), consolidate_steps=int(consolidate_steps),
                           prototype_weight=float(prototype_weight))
        self.net = SpikingMLP(dim, hidden, 0, neuron=neuron, T=T, seed=seed)
        self.prior, self.prior_source = resolve_prior(str(prior), dim, hidden, seed)
        if self.prior is not None and not 0 <= mask_gate < self.prior.k:
            raise ValueError(f"mask_gate must be in 1..{self.prior.k - 1} (0 = the prior's own gate)")
        self.memory = self._new_memory()
        self.n_updates = 0
        self.n_consolidations = 0
        self.last_meta_fraction = 0.0
        self.last_steps = 0  # training steps the last teach ran (diagnostics)
        self._plan: ReplayPlan | None = None  # the next teach's old-class draws, made at rest (shared by copies)
        # The first torch.optim.Optimizer of a process imports torch._dynamo (~2 s measured on a
        # 2-core CPU): pay it when the learner is made, not in the middle of the first teach.
        self._optimizer()

    def _class_overhead(self) -> int:
        """Bytes stored per class outside the class memory: its output row (weights + bias, float32)
        and at most CALIBRATION_SIZE open-set calibration scores (float64) with their count (int64)."""
        return 4 * (self.config["hidden"][-1] + 1) + 8 * CALIBRATION_SIZE + 8

    def _new_memory(self):  # -> ExemplarMemory | GaussianMemory
        # memory_bytes is everything stored per class: the statistics get what the output row and
        # the calibration scores leave.
        cfg = self.config
        budget = cfg["memory_bytes"] - self._class_overhead()
        return make_memory(cfg["memory"], self.dim, cfg["memory_per_class"], budget, self.seed)

    # ---------------------------------------------------------------- helpers
    def _masks(self, x: torch.Tensor) -> list[torch.Tensor | None] | None:
        """Per-layer masks of ``x``: binary from the prior, or graded (``mask_floor`` + (1 − floor)·m),
        None for layers not in ``mask_layers``."""
        if self.prior is None:
            return None
        cfg = self.config
        masks: list[torch.Tensor | None] = []
        for i, m in enumerate(self.prior.masks(x, cfg["mask_gate"] or None)):
            if i not in cfg["mask_layers"]:
                masks.append(None)
            else:
                masks.append(m if not cfg["mask_floor"] else m.mul_(1.0 - cfg["mask_floor"]).add_(cfg["mask_floor"]))
        return masks

    def _logits(self, X: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(X)
        return self.net(x, self._masks(x))

    def _imprint(self, X: np.ndarray) -> torch.Tensor:
        """Initial output row: mean hidden rate of the new samples, scaled like existing rows."""
        with torch.no_grad():
            x = torch.from_numpy(X)
            rate = self.net.readout_rates(x, self._masks(x)).mean(0)
            norm = self.net.head.weight.norm(dim=1).mean() if self.net.n_out else torch.tensor(1.0)
            return (rate / (rate.norm() + 1e-6) * norm).unsqueeze(0)

    def _optimizer(self) -> MetaplasticAdam:
        cfg = self.config
        layers = cfg["meta_layers"]
        meta_params = ([fc.weight for fc in self.net.fcs] if layers in ("all", "hidden") else []) + \
            ([self.net.head.weight] if layers in ("all", "head") else [])
        ids = {id(p) for p in meta_params}
        rest = [p for p in self.net.parameters() if id(p) not in ids]
        # Biases and norms are exempt from metaplasticity, as in the method.
        return MetaplasticAdam(
            [{"params": meta_params, "meta": cfg["meta"]}, {"params": rest, "meta": 0.0}],
            lr=cfg["lr"], meta_fn=cfg["meta_fn"], betas=(0.9, 0.999 if cfg["optimizer"] == "adam" else 0.0),
        )

    def _per_class(self, n_classes: int) -> int:
        """Samples of each class in a class-balanced batch (teach and consolidation alike)."""
        return max(4, self.config["batch"] // n_classes)

    @staticmethod
    def _update(opt: MetaplasticAdam, logits: torch.Tensor, yb: torch.Tensor) -> None:
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    def _train_logits(self, xb: np.ndarray, gen: torch.Generator, scale: float, old: OldDraw | None = None
                      ) -> torch.Tensor:
        """Training forward pass on ``xb`` followed by the ``old`` rows: masks of the clean inputs (the
        prior sees what inference will see; the old rows bring theirs), the SNN on the inputs plus
        training noise."""
        x = torch.from_numpy(xb)
        masks: Masks = self._masks(x)
        if old is not None and len(old.x):
            x, masks = torch.cat([x, torch.from_numpy(old.x)]), join_masks(masks, old.masks)
        return self.net(x + self.config["noise"] * scale * torch.randn(x.shape, generator=gen), masks)

    def _current_batch(self, X: np.ndarray, idx: np.ndarray, current: list[int], per_class: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A step's rows of the current classes: ``per_class`` of each (taught samples, and a
        ``current_replay`` share from the class memory, which holds its earlier teaches)."""
        n_mem = int(round(per_class * self.config["current_replay"]))
        xs, ys = [], []
        for c in current:
            own = X[idx == c]
            xs.append(own[rng.integers(len(own), size=per_class - n_mem)])
            ys.append(np.full(per_class - n_mem, c, np.int64))
        mem_x, mem_y = self.memory.sample(current, n_mem, rng) if n_mem else (X[:0], idx[:0])
        return np.concatenate([*xs, mem_x]), np.concatenate([*ys, mem_y])

    def _old_stream(self, current: list[int], n_classes: int
                    ) -> tuple[tuple, list[int], Callable[[np.random.Generator], Iterator[OldDraw]]]:
        """(plan key, seed words, draw function) of the old classes' rows of a teach into ``current``
        with ``n_classes`` classes in all: ``per_class`` rows of every other class per step while they
        fit in the batch, a random subset of them beyond (a teach touches O(batch) stored samples
        whatever the class count).  Keyed by everything the draws depend on, and by the consolidation
        that drew the plan."""
        per_class = self._per_class(n_classes)
        others = [c for c in range(n_classes) if c not in current]
        n_old = min(len(others), max(1, self.config["batch"] // per_class - len(current)))
        key = (self.n_updates, self.n_consolidations, self.memory.version, tuple(current), n_classes)
        return key, [self.seed, self.n_updates], (
            lambda rng: old_draws(self.memory.sample, self._masks, others, n_old, per_class, rng))

    def _plan_next_teach(self) -> ReplayPlan | None:
        """The old-class draws of the next teach if it brings one new class (the teach of a robot that
        is shown a new object), made now, at rest."""
        n = len(self.classes_)
        if not n or not self.config["new_min_steps"]:
            return None
        key, seed_words, draws = self._old_stream([n], n + 1)
        return make_plan(key, seed_words, draws, self.config["new_min_steps"])

    # ------------------------------------------------------------------ hooks
    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        cfg = self.config
        # A teach that brings a new class carves its region out of the old ones' and rebalances them:
        # it trains for new_steps (at least new_min_steps); a re-teach of known classes only refines.
        new_class = len(self.classes_) > self.net.n_out
        steps, min_steps = (cfg["new_steps"], cfg["new_min_steps"]) if new_class else (cfg["steps"], cfg["min_steps"])
        current = sorted(int(c) for c in np.unique(idx))
        old_stream = stream_from(self._plan, *self._old_stream(current, len(self.classes_)))  # memory as it was
        for c in range(self.net.n_out, len(self.classes_)):
            self.memory.add_class()
            self.net.add_outputs(1, self._imprint(X[idx == c]))
        for c in np.unique(idx):
            self.memory.add(int(c), X[idx == c])
        if len(self.classes_) < 2:
            return  # one class: nothing to discriminate yet (imprinting suffices)

        rng = np.random.default_rng([self.seed, self.n_updates])
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        # Class-balanced batches: the same number of samples of every class in a step, the old classes'
        # share from their own stream (drawn ahead at rest when it could be, _plan_next_teach).
        per_class = self._per_class(len(self.classes_))
        opt = self._optimizer()
        scale = float(X.std()) + 1e-6
        self.net.train()
        done = 0
        for step in range(steps):
            old = next(old_stream)
            xb, yb = self._current_batch(X, idx, current, per_class, rng)
            logits = self._train_logits(xb, gen, scale, old)
            yb = torch.from_numpy(np.concatenate([yb, old.y]))
            # Stop once a whole (noisy, class-balanced) batch is classified correctly (by
            # stop_margin in probability), after min_steps: a class that is already learned gets
            # few updates, which is faster and less disruptive to the other classes; a margin
            # buys robustness to shifted inputs for more steps (both measured in the README).
            learned = _learned(logits, yb, cfg["stop_margin"])
            if step >= min_steps and learned:
                break
            self._update(opt, logits, yb)
            done += 1
            # The last required step's batch, already learned before its update, ends the teach
            # too: no extra forward pass only to confirm it (a sixth of a teach's compute).
            if done == min_steps and learned:
                break
        self.net.eval()
        self.last_steps = done
        self.last_meta_fraction = opt.last_scaled_fraction
        self.n_updates += 1

    def consolidation_steps(self) -> int:
        return self.config["consolidate_steps"] if len(self.classes_) >= 2 else 0

    def _consolidate(self, steps: int) -> int:
        """Replay what is known, with no new data: ``steps`` (``consolidate_steps`` by default) updates on
        class-balanced batches of pseudo-features of all classes (a random subset of them per step
        once they outnumber the batch), drawn from the class memory with their masks from the prior.

        The classifier runs it when a teach has ended and nothing waits (the benchmarks after every
        teach), so a teach can stop as soon as its class is learned and the rebalancing of the
        classes against each other happens off the teach path, as the hippocampus replays to the
        cortex at rest.  Measured with ``chhnn-bench ablation``: see the README.  Returns the
        number of updates run (0 with fewer than two classes: nothing to balance)."""
        cfg = self.config
        n = len(self.classes_)
        if n < 2:
            return 0
        rng = np.random.default_rng([self.seed, self.n_updates, 1 + self.n_consolidations])
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        per_class = self._per_class(n)
        n_cls = min(n, max(2, cfg["batch"] // per_class))
        opt = self._optimizer()
        scale = None
        self.net.train()
        try:
            for _ in range(steps):
                xb, yb = self.memory.sample([int(c) for c in rng.choice(n, size=n_cls, replace=False)],
                                            per_class, rng)
                scale = scale or float(xb.std()) + 1e-6  # the input scale, as a teach takes it from its samples
                self._update(opt, self._train_logits(xb, gen, scale), torch.from_numpy(yb))
        finally:
            self.net.eval()
        self.n_consolidations += 1
        # This copy is swapped in for the next frames and teaches: build the caches their labelling
        # needs and the next teach's old-class draws here, off the frame and teach paths (at 500 classes
        # most of a frame's cost when built there; the draws and their masks are about a third of a teach).
        self.memory.warm()
        self._plan = self._plan_next_teach()
        return steps

    @torch.no_grad()
    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        self.net.eval()
        return self.probabilities(self._logits(X), X).double().numpy()

    def probabilities(self, logits: torch.Tensor, X: np.ndarray) -> torch.Tensor:
        """Class probabilities of inputs ``X`` from the SNN's ``logits`` on them: the SNN's softmax times
        the class memory's vote (:meth:`_prototype_logits`), renormalised."""
        logp = F.log_softmax(logits, dim=1)
        vote = self._prototype_logits(X)
        if vote is not None:
            logp = logp + F.log_softmax(vote, dim=1)
        return F.softmax(logp, dim=1)

    def _prototype_logits(self, X: np.ndarray) -> torch.Tensor | None:
        """``prototype_weight`` × minus the squared distance of the input to each class mean of the class
        memory, z-scored over the classes per sample (so the vote has the same strength in any feature
        space: no temperature to tune per encoder).  None with fewer than two classes or a weight of 0.

        The SNN is trained on pseudo-features and shifts with them; the class means are exact
        statistics of everything taught.  Measured (``chhnn-bench robustness``, ``chhnn-bench
        ablation``): under pixel noise on the sim objects the product is nearly as robust as the means
        alone, and one teach a class gains on split-MNIST and split-Fashion, where the means alone are
        far worse than the SNN.  Centred cosine votes measured the same but break down for a class
        whose mean lies near the centre of all means."""
        w = self.config["prototype_weight"]
        if w == 0.0 or len(self.classes_) < 2:
            return None
        x, means = torch.from_numpy(X), torch.from_numpy(self.memory.means())
        closeness = 2.0 * x @ means.T - (means * means).sum(1)  # −‖x − μ‖² + ‖x‖² (a per-row constant)
        z = (closeness - closeness.mean(1, keepdim=True)) / (closeness.std(1, keepdim=True) + 1e-6)
        return w * z

    def _forget(self, index: int) -> None:
        self.net.remove_output(index)
        self.memory.remove_class(index)

    def _copy_net(self, n_out: int, weights: dict[str, torch.Tensor]) -> SpikingMLP:
        # Built without memory (meta device), then given copies of the weights: initialising
        # parameters only to overwrite them costs a teach about as much as one training step.
        with torch.device("meta"):
            net = SpikingMLP(self.dim, self.config["hidden"], n_out, neuron=self.config["neuron"],
                             T=self.config["T"], seed=self.seed)
        try:
            net.load_state_dict({k: v.detach().clone() for k, v in weights.items()}, assign=True)
        except RuntimeError as exc:
            raise ValueError(f"CH-HNN weights do not match the configuration: {exc}") from None
        return net.eval()

    def clone(self) -> CHHNN:
        """An independent copy that shares the frozen prior: only the SNN and the class memory are copied."""
        new = object.__new__(type(self))
        for key, value in self.__dict__.items():  # reads only: safe while another thread predicts
            if key in ("prior", "_plan"):  # frozen / never written: shared
                new.__dict__[key] = value
            elif key == "net":
                new.net = self._copy_net(value.n_out, value.state_dict())
            elif key == "memory":
                new.memory = value.copy()
            else:  # classes, config, open-set calibration, counters: small
                new.__dict__[key] = copy.deepcopy(value)
        return new

    def _get_state(self) -> dict[str, Any]:
        return {
            "net": {k: v.clone() for k, v in self.net.state_dict().items()},
            "n_out": self.net.n_out,
            "prior": prior_reference(self.prior, self.prior_source),
            "memory": self.memory.state(),
            "n_updates": self.n_updates,
            "n_consolidations": self.n_consolidations,
        }

    def _set_state(self, state: dict[str, Any], classes: Sequence[Any]) -> None:
        if int(state["n_out"]) != len(classes):
            raise ValueError("CH-HNN state has an output row count different from its class list")
        net = self._copy_net(int(state["n_out"]), state["net"])
        prior, source = prior_from_reference(state["prior"])
        if source == "embedded":  # a state written before priors were referenced
            source = str(state.get("prior_source", source))
        memory = self._new_memory()
        saved = state["memory"]
        if memory.kind == saved.get("kind", "exemplars"):
            memory.load(saved)
        elif memory.kind == "stats":  # raw exemplars of an older state → their statistics
            old = ExemplarMemory(self.dim, max(1, self.config["memory_per_class"]), self.seed)
            old.load(saved)
            for c in range(len(old)):
                memory.add_class()
                if len(rows := old.rows(c)):
                    memory.add(c, rows)
        else:
            raise ValueError(f"CH-HNN state holds a {saved.get('kind')!r} memory, the learner is configured "
                             f"for {memory.kind!r}")
        if len(memory) != len(classes):
            raise ValueError("CH-HNN state has a class memory of another length than its class list")
        self.net, self.prior, self.prior_source, self.memory = net, prior, source, memory
        self._plan = None
        self.n_updates = int(state.get("n_updates", 0))
        self.n_consolidations = int(state.get("n_consolidations", 0))

    # --------------------------------------------------------------- open set
    def _open_scores(self, X: np.ndarray, task: int | None) -> tuple[np.ndarray, np.ndarray]:
        """(SNN probabilities, known-ness): the log-density of the input under each class's Gaussian of
        the class memory (mean + rank-k scatter + residual variance), the model the SNN replays.

        Measured against the SNN's own scores (max probability, probability × cosine to the class
        mean) on ``chhnn-bench openset``: the class log-density separated never-taught classes best
        on every stream (README open-set table)."""
        return self._proba(X, task), self.memory.loglik(X)

    def _known_of(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> np.ndarray:
        """Known-ness of each sample for its own class only (a teach must not score every class)."""
        out = np.empty(len(idx))
        for c in np.unique(idx):
            rows = np.flatnonzero(idx == c)
            out[rows] = self.memory.loglik(X[rows], [int(c)])[:, 0]
        return out

    def _calibration_scores(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> np.ndarray:
        """Held-out log-density of a new class's taught samples (blocks of the teach left out in turn)."""
        out = np.full(len(idx), np.nan)
        for c in np.unique(idx):
            rows = np.flatnonzero(idx == c)
            out[rows] = self.memory.held_out_loglik(X[rows])
        return out

    def _unit_without_spread(self) -> float:
        """A taught view at its class mean lies d/2 above a typical sample of the class's Gaussian
        (Mahalanobis distance² = d), where held-out calibration scores stop."""
        return self.dim / 2.0

    # -------------------------------------------------------------- reporting
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def memory_bytes_per_class(self) -> float:
        """Everything stored per class: the class memory, the output row (weights + bias) and the
        open-set calibration scores."""
        n = max(1, len(self.classes_))
        calib = sum(a.nbytes + 8 for a in self.calibration_) / n  # the scores and their count
        head = sum(t.numel() * t.element_size() for t in (self.net.head.weight, self.net.head.bias)) / n
        return self.memory.nbytes_per_class() + head + calib

    def describe(self) -> dict[str, Any]:
        return {"prior": self.prior_source, "prior_digest": None if self.prior is None else digest(self.prior),
                "memory": self.memory.kind, "classes": len(self.classes_), "updates": self.n_updates}


@register
class CHHNNNoMeta(CHHNN):
    """Ablation: metaplasticity off (m = 0)."""

    name = "chhnn-nometa"
    fixed_params: dict[str, Any] = {"meta": 0.0}

    def __init__(self, dim: int, seed: int = 0, **kw: Any) -> None:
        super().__init__(dim, seed, **{**kw, **self.fixed_params})


@register
class CHHNNNoPrior(CHHNN):
    """Ablation: no modulation masks (the SNN sees every unit for every input)."""

    name = "chhnn-nomask"
    fixed_params: dict[str, Any] = {"prior": "none"}

    def __init__(self, dim: int, seed: int = 0, **kw: Any) -> None:
        super().__init__(dim, seed, **{**kw, **self.fixed_params})
