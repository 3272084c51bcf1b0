"""Spiking baselines on the same :class:`SpikingMLP` that CH-HNN uses.

* ``finetune-snn``: no masks, no metaplasticity, plain surrogate-gradient
  training on each teach: what CH-HNN's additions are measured against.
* ``latent-replay``: Replay4NCL-style latent replay.  Per class a reservoir
  of hidden-layer spike trains of layer ``latent_layer`` is stored at a
  reduced number of time steps (the first ``T_replay`` of ``T``: with the
  constant-current input encoding this is exactly the activity the frozen
  layers produce when run for ``T_replay`` steps), bit-packed (1 bit per
  spike).  Replayed trains continue through ``forward_from`` with the
  thresholds of the layers above the latent layer lowered by
  ``replay_threshold`` (fewer steps give a membrane less time to charge) and
  their loss weighted by ``replay_weight`` (a lower learning rate on the
  compressed data), the two adjustments of Replay4NCL.  Layers up to the
  latent layer are trained with everything else on the first teach and
  frozen afterwards (as in latent replay), so stored spikes stay valid;
  since one class alone gives no cross-entropy gradient, in a one-class-per-
  teach stream those layers in practice keep their seeded initialisation.
  The default latent layer is the first hidden layer, so the replayed spikes
  still drive a spiking layer whose threshold the adjustment applies to;
  ``latent_layer=-1`` stores the last hidden layer (then only the readout
  learns from replay).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from chhnn_ros.learning.base import Learner
from chhnn_ros.learning.baselines.mlp import clone_state, make_optimizer
from chhnn_ros.learning.checks import check_counts, check_hidden, check_optimizer, check_positive
from chhnn_ros.learning.registry import register
from chhnn_ros.learning.reservoir import ClassReservoirs
from chhnn_ros.learning.snn import NEURONS, SpikingMLP


class SNNLearner(Learner):
    """Shared training loop of the spiking baselines (fresh optimiser per teach, RNG from (seed, n_updates)).

    Adam by default here (unlike the ANN baselines): the LayerNorm before
    every spiking layer makes the input scale irrelevant, and on split digits
    latent replay reached 82 % class-IL with Adam (lr 1e-3) against 75 % with
    SGD (lr 0.03).
    """

    name = "snn-base"

    def __init__(
        self,
        dim: int,
        seed: int = 0,
        hidden: Sequence[int] = (256, 256),
        neuron: str = "lif",
        T: int = 10,
        lr: float = 1e-3,
        optimizer: str = "adam",
        steps: int = 5,
        batch: int = 32,
    ) -> None:
        super().__init__(dim, seed)
        hidden = check_hidden(hidden)
        check_positive(lr=lr)
        check_counts(steps=steps, batch=batch, T=T)
        if neuron not in NEURONS:
            raise ValueError(f"neuron must be one of {NEURONS}, got {neuron!r}")
        check_optimizer(optimizer)
        self.config.update(hidden=hidden, neuron=neuron, T=int(T), lr=float(lr), optimizer=optimizer,
                           steps=int(steps), batch=int(batch))
        self.net = self._new_net(0)
        self.n_updates = 0

    def _new_net(self, n_out: int) -> SpikingMLP:
        cfg = self.config
        return SpikingMLP(self.dim, cfg["hidden"], n_out, neuron=cfg["neuron"], T=cfg["T"], seed=self.seed).eval()

    # ------------------------------------------------------------ subclass hooks
    def _trainable(self) -> list[torch.nn.Parameter]:
        return list(self.net.parameters())

    def _prepare(self, X: np.ndarray) -> Any:
        """Per-call precomputation shared by the steps (e.g. frozen latent spikes)."""
        return None

    def _loss(self, X: np.ndarray, idx: np.ndarray, pick: np.ndarray, prep: Any,
              rng: np.random.Generator) -> torch.Tensor:
        return F.cross_entropy(self.net(torch.from_numpy(X[pick])), torch.from_numpy(idx[pick]))

    def _after_fit(self, X: np.ndarray, idx: np.ndarray) -> None: ...

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _parse_extra(self, state: dict[str, Any], n_classes: int) -> dict[str, Any]:
        return {}

    def _forget_extra(self, index: int) -> None: ...

    # -------------------------------------------------------------------- hooks
    def _fit(self, X: np.ndarray, idx: np.ndarray, task: int | None) -> None:
        cfg = self.config
        rng = np.random.default_rng([self.seed, self.n_updates])
        n_new = len(self.classes_) - self.net.n_out
        if n_new > 0:
            # Xavier-uniform rows drawn from the learner's own RNG (not torch's global one): same seed, same run.
            gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
            bound = (6.0 / (self.net.head.in_features + n_new)) ** 0.5
            self.net.add_outputs(n_new, (torch.rand(n_new, self.net.head.in_features, generator=gen) * 2 - 1) * bound)
        opt = make_optimizer(cfg["optimizer"], self._trainable(), cfg["lr"])
        prep = self._prepare(X)
        self.net.train()
        for _ in range(cfg["steps"]):
            pick = rng.permutation(len(X))[: cfg["batch"]]
            loss = self._loss(X, idx, pick, prep, rng)
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.net.eval()
        self._after_fit(X, idx)
        self.n_updates += 1

    @torch.no_grad()
    def _proba(self, X: np.ndarray, task: int | None) -> np.ndarray:
        self.net.eval()
        return F.softmax(self.net(torch.from_numpy(X)).double(), dim=1).numpy()

    def _forget(self, index: int) -> None:
        self.net.remove_output(index)
        self._forget_extra(index)

    def _get_state(self) -> dict[str, Any]:
        return {"net": clone_state(self.net), "n_out": self.net.n_out, "n_updates": self.n_updates,
                "extra": self._extra_state()}

    def _set_state(self, state: dict[str, Any], classes: Sequence[Any]) -> None:
        try:
            n_out = int(state["n_out"])
            net = self._new_net(n_out)
            net.load_state_dict(state["net"])
            extra = self._parse_extra(state["extra"], len(classes))
            n_updates = int(state["n_updates"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise ValueError(f"{self.name} state does not match the configuration: {exc}") from None
        if n_out != len(classes):
            raise ValueError(f"{self.name} state has {n_out} output rows but {len(classes)} classes")
        self.net, self.n_updates = net, n_updates
        for key, val in extra.items():
            setattr(self, key, val)

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())


@register
class FinetuneSNN(SNNLearner):
    name = "finetune-snn"


@register
class LatentReplaySNN(SNNLearner):
    name = "latent-replay"

    def __init__(
        self,
        dim: int,
        seed: int = 0,
        latent_layer: int = 0,
        T_replay: int = 4,
        per_class: int = 50,
        replay_batch: int = 32,
        replay_threshold: float = 0.8,
        replay_weight: float = 0.75,
        **kw: Any,
    ) -> None:
        super().__init__(dim, seed, **kw)
        n_hidden = len(self.config["hidden"])
        if not isinstance(latent_layer, int) or not -n_hidden <= latent_layer < n_hidden:
            raise ValueError(f"latent_layer must index one of the {n_hidden} hidden layers, got {latent_layer!r}")
        check_counts(T_replay=T_replay, per_class=per_class, replay_batch=replay_batch)
        if T_replay > self.config["T"]:
            raise ValueError(f"T_replay ({T_replay}) cannot exceed T ({self.config['T']})")
        check_positive(replay_threshold=replay_threshold, replay_weight=replay_weight)
        self.config.update(latent_layer=int(latent_layer), T_replay=int(T_replay), per_class=int(per_class),
                           replay_batch=int(replay_batch), replay_threshold=float(replay_threshold),
                           replay_weight=float(replay_weight))
        self.layer = latent_layer % n_hidden
        self.width = self.config["hidden"][self.layer]
        self.memory = ClassReservoirs((self._packed_width(),), torch.uint8)  # bit-packed spike trains
        self.frozen = False

    # ------------------------------------------------------------------ packing
    def _pack(self, spikes: torch.Tensor) -> torch.Tensor:
        """(T_r, B, H) 0/1 → (B, ceil(T_r·H/8)) uint8."""
        flat = spikes.permute(1, 0, 2).reshape(spikes.shape[1], -1).numpy().astype(bool)
        return torch.from_numpy(np.packbits(flat, axis=1))

    def _unpack(self, packed: torch.Tensor) -> torch.Tensor:
        Tr = self.config["T_replay"]
        bits = np.unpackbits(packed.numpy(), axis=1, count=Tr * self.width)
        return torch.from_numpy(bits.astype(np.float32)).reshape(-1, Tr, self.width).permute(1, 0, 2)

    # --------------------------------------------------------------------- hooks
    def _trainable(self) -> list[torch.nn.Parameter]:
        if not self.frozen:
            return list(self.net.parameters())
        above = [p for i in range(self.layer + 1, len(self.net.fcs))
                 for p in (*self.net.fcs[i].parameters(), *self.net.norms[i].parameters())]
        return above + list(self.net.head.parameters())

    @torch.no_grad()
    def _prepare(self, X: np.ndarray) -> torch.Tensor | None:
        if not self.frozen:
            return None
        return self.net.hidden_spikes(torch.from_numpy(X))[self.layer]

    def _replay_logits(self, spikes: torch.Tensor) -> torch.Tensor:
        nodes = self.net.nodes[self.layer + 1 :]
        saved = [n.v_threshold for n in nodes]
        try:
            for n in nodes:
                n.v_threshold = n.v_threshold * self.config["replay_threshold"]
            return self.net.forward_from(self.layer, spikes)
        finally:
            for n, v in zip(nodes, saved):
                n.v_threshold = v

    def _loss(self, X: np.ndarray, idx: np.ndarray, pick: np.ndarray, prep: torch.Tensor | None,
              rng: np.random.Generator) -> torch.Tensor:
        y = torch.from_numpy(idx[pick])
        if prep is None:
            logits = self.net(torch.from_numpy(X[pick]))
        else:
            logits = self.net.forward_from(self.layer, prep[:, torch.from_numpy(pick)])
        loss = F.cross_entropy(logits, y)
        replayed = self.memory.sample(self.config["replay_batch"], rng)
        if replayed is not None:
            packed, cls = replayed
            logits_r = self._replay_logits(self._unpack(packed))
            loss = loss + self.config["replay_weight"] * F.cross_entropy(logits_r, torch.from_numpy(cls))
        return loss

    @torch.no_grad()
    def _after_fit(self, X: np.ndarray, idx: np.ndarray) -> None:
        self.frozen = True
        self.memory.grow(len(self.classes_))
        spikes = self.net.hidden_spikes(torch.from_numpy(X))[self.layer][: self.config["T_replay"]]
        self.memory.offer(idx, self._pack(spikes), self.config["per_class"],
                          np.random.default_rng([self.seed, self.n_updates, 1]))

    def _packed_width(self) -> int:
        return (self.config["T_replay"] * self.width + 7) // 8

    def _forget_extra(self, index: int) -> None:
        self.memory.remove(index)

    def _extra_state(self) -> dict[str, Any]:
        return {**self.memory.state(), "frozen": self.frozen}

    def _parse_extra(self, state: dict[str, Any], n_classes: int) -> dict[str, Any]:
        return {"memory": self.memory.load(state, n_classes, "latent-replay"), "frozen": bool(state["frozen"])}

    def memory_bytes_per_class(self) -> float:
        """Stored bit-packed spike trains, averaged over the known classes."""
        return self.memory.nbytes() / max(1, len(self.classes_))
