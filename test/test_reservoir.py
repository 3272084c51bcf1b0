"""Reservoir sampling per class: bounded buffers, every offered sample equally likely to be kept."""

import numpy as np
import torch

from chhnn_ros.learning.reservoir import ClassReservoirs


def test_every_offered_sample_is_kept_with_the_same_probability():
    kept = np.zeros(100)
    for seed in range(400):
        r = ClassReservoirs((1,))
        r.grow(1)
        r.offer([0] * 100, torch.arange(100, dtype=torch.float32)[:, None], 10, np.random.default_rng(seed))
        assert len(r.buffers[0]) == 10 and r.seen == [100]
        kept[r.buffers[0][:, 0].long().numpy()] += 1
    # each of the 100 samples kept in ~10 % of the runs: early and late ones alike
    assert abs(kept[:50].mean() - kept[50:].mean()) < 8 and 25 < kept.mean() < 55


def test_sample_trim_remove_and_state_round_trip():
    r = ClassReservoirs((2,), torch.uint8)
    r.grow(3)
    rng = np.random.default_rng(0)
    r.offer([0, 1, 1, 2, 2, 2], torch.arange(12, dtype=torch.uint8).reshape(6, 2), 5, rng)
    rows, cls = r.sample(4, rng)
    assert rows.shape == (4, 2) and rows.dtype == torch.uint8 and set(cls) <= {0, 1, 2}
    for row, c in zip(rows, cls):  # each drawn row comes from its class's buffer
        assert any(torch.equal(row, b) for b in r.buffers[c])
    r.trim(1)
    assert [len(b) for b in r.buffers] == [1, 1, 1] and r.nbytes() == 6
    r.remove(1)
    back = r.load(r.state(), 2, "test")
    assert [b.tolist() for b in back.buffers] == [b.tolist() for b in r.buffers] and back.seen == [1, 3]
    assert ClassReservoirs((2,)).sample(3, rng) is None
