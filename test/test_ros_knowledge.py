"""The classifier's learner/database/memory rules, without ROS."""

import numpy as np
import pytest

from chhnn_ros.nodes import memory
from chhnn_ros.nodes.knowledge import Knowledge, parse_learner_params

RNG = np.random.default_rng(0)


def X(c, n=5, dim=6):
    return (np.full((n, dim), c) + 0.05 * RNG.standard_normal((n, dim))).astype(np.float32)


def test_teach_swaps_a_copy_and_persists(tmp_path):
    path = tmp_path / "m.pt"
    k = Knowledge("ncm", "", 0, str(path), False)
    assert k.learner is None and "no memory file" in k.notice
    assert k.teach("a", X(1.0), "enc") == 1
    first = k.learner
    assert k.teach("b", X(-1.0), "enc") == 2
    assert k.learner is not first and first.classes_ == ["a"]  # the old learner was never modified
    labels, scores = k.predict(np.vstack([X(1.0, 1), X(-1.0, 1)]))
    assert labels == ["a", "b"] and (scores > 0.5).all()
    assert k.forget("a") == 3 and k.classes() == ["b"]
    with pytest.raises(ValueError, match="unknown class"):
        k.forget("zzz")
    with pytest.raises(ValueError, match="dimension 4"):
        k.teach("c", X(0.0, dim=4), "other")
    assert k.classes() == ["b"] and k.database_version == 3
    again = Knowledge("ncm", "", 0, str(path), False)
    assert again.classes() == ["b"] and again.database_version == 3 and again.extra["encoder"] == "enc"


def test_other_learner_file_is_incompatible(tmp_path):
    path = tmp_path / "m.pt"
    Knowledge("ncm", "", 0, str(path), False).teach("a", X(1.0), "enc")
    with pytest.raises(memory.MemoryFileError, match="written by learner 'ncm'"):
        Knowledge("slda", "", 0, str(path), False)
    k = Knowledge("slda", "", 0, str(path), True)
    assert k.classes() == [] and "moved it to" in k.notice and not path.exists()
    assert len(list(tmp_path.glob("m.pt.corrupt-*"))) == 1


def test_no_persistence_and_params():
    k = Knowledge("ncm", "{}", 0, "", False)
    assert k.predict(X(0.0)) == ([], pytest.approx(np.zeros(0)))
    assert "not saved" in k.save()
    assert parse_learner_params("a: 1") == {"a": 1} and parse_learner_params('{"b": 2}') == {"b": 2}
    with pytest.raises(ValueError, match="mapping"):
        parse_learner_params("[1, 2]")
    with pytest.raises(ValueError, match="unknown learner"):
        Knowledge("nope", "", 0, "", False).teach("a", X(1.0), "enc")
