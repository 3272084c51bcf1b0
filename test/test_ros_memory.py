"""Memory file: atomic save, safe load, corrupt files refused or kept aside."""

import os

import numpy as np
import pytest

from chhnn_ros import files
from chhnn_ros.app import memory_file

STATE = {"format": 1, "learner": "x", "config": {"dim": 3}, "classes": ["cup", 4],
         "state": {"means": np.arange(6, dtype=np.float32).reshape(2, 3), "counts": np.int64(5),
                   "nested": [np.ones(2), {"k": np.zeros(1, np.int16)}]}}


def test_round_trip_keeps_numpy(tmp_path):
    path = memory_file.save(tmp_path / "sub" / "memory.pt", STATE, 7, {"encoder": "efficientnet"})
    got = memory_file.load(path)
    assert got["database_version"] == 7 and got["extra"] == {"encoder": "efficientnet"}
    s = got["learner_state"]
    np.testing.assert_array_equal(s["state"]["means"], STATE["state"]["means"])
    assert s["state"]["means"].dtype == np.float32 and s["state"]["counts"] == 5
    assert s["state"]["nested"][1]["k"].dtype == np.int16 and s["classes"] == ["cup", 4]
    assert [p.name for p in path.parent.iterdir()] == ["memory.pt"]  # no temporary file left


def test_missing_file_is_none(tmp_path):
    assert memory_file.load(tmp_path / "none.pt") is None


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    path = memory_file.save(tmp_path / "memory.pt", STATE, 1)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        memory_file.save(path, STATE, 2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["memory.pt"]


@pytest.mark.parametrize("content", [b"garbage", b""])
def test_corrupt_file_raises_and_quarantine_keeps_it(tmp_path, content):
    path = tmp_path / "memory.pt"
    path.write_bytes(content)
    with pytest.raises(memory_file.MemoryFileError, match="cannot be read"):
        memory_file.load(path)
    moved = memory_file.quarantine(path)
    assert not path.exists() and moved.read_bytes() == content and ".corrupt-" in moved.name
    path.write_bytes(b"again")  # a second bad file in the same second never overwrites the first
    moved2 = memory_file.quarantine(path)
    assert moved2 != moved and moved.read_bytes() == content and moved2.read_bytes() == b"again"


def test_foreign_torch_file_is_rejected(tmp_path):
    import torch

    path = tmp_path / "memory.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(memory_file.MemoryFileError, match="not a chhnn_ros memory file"):
        memory_file.load(path)


def test_load_never_executes_code(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "memory.pt"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(memory_file.MemoryFileError):
        memory_file.load(path)
    assert not (tmp_path / "pwned").exists()
