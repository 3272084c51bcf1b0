"""The classifier's learner/database/memory rules, without ROS."""

import threading

import numpy as np
import pytest

from chhnn_ros.app import memory_file
from chhnn_ros.app.knowledge import Knowledge, StaleUpdate, learn, parse_learner_params
from chhnn_ros.learning.baselines.prototypes import NCM
from chhnn_ros.learning.registry import register

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
    pred = k.predict(np.vstack([X(1.0, 1), X(-1.0, 1)]))
    assert pred.nearest == ["a", "b"] and (pred.scores > 0.5).all()
    k.teach("a", X(1.0), "enc")
    assert k.teaches() == {"a": 2, "b": 1} and k.database_version == 3
    assert k.forget("a") == 4 and k.classes() == ["b"] and k.teaches() == {"b": 1}
    with pytest.raises(ValueError, match="unknown class"):
        k.forget("zzz")
    with pytest.raises(ValueError, match="dimension 4"):
        k.teach("c", X(0.0, dim=4), "other")
    assert k.classes() == ["b"] and k.database_version == 4
    again = Knowledge("ncm", "", 0, str(path), False)
    assert again.classes() == ["b"] and again.database_version == 4 and again.extra["encoder"] == "enc"
    assert again.teaches() == {"b": 1}


def test_other_learner_file_is_incompatible(tmp_path):
    path = tmp_path / "m.pt"
    Knowledge("ncm", "", 0, str(path), False).teach("a", X(1.0), "enc")
    with pytest.raises(memory_file.MemoryFileError, match="written by learner 'ncm'"):
        Knowledge("slda", "", 0, str(path), False)
    k = Knowledge("slda", "", 0, str(path), True)
    assert k.classes() == [] and "moved it to" in k.notice and not path.exists()
    assert len(list(tmp_path.glob("m.pt.corrupt-*"))) == 1


def test_no_persistence_and_params():
    k = Knowledge("ncm", "{}", 0, "", False)
    pred = k.predict(X(0.0))
    assert pred.nearest == [None] * 5 and not pred.known.any()
    assert "not saved" in k.save()
    assert parse_learner_params("a: 1") == {"a": 1} and parse_learner_params('{"b": 2}') == {"b": 2}
    with pytest.raises(ValueError, match="mapping"):
        parse_learner_params("[1, 2]")
    with pytest.raises(ValueError, match="unknown learner"):
        Knowledge("nope", "", 0, "", False).teach("a", X(1.0), "enc")


def test_bad_learner_config_fails_at_start_not_at_the_first_teach():
    with pytest.raises(ValueError, match="unknown learner 'nope'"):
        Knowledge("nope", "", 0, "", False, feature_dim=6)
    with pytest.raises(ValueError, match="scal"):
        Knowledge("ncm", "{scal: 3}", 0, "", False, feature_dim=6)
    k = Knowledge("ncm", "", 0, "", False, feature_dim=6)
    assert k.learner is not None and k.learner.dim == 6 and k.classes() == []  # built at start, empty
    assert k.prepare(4) and k.learner.dim == 4  # an empty learner follows the encoder's dimension
    k.teach("a", X(1.0, dim=4), "enc")
    assert not k.prepare(4)
    with pytest.raises(ValueError, match="dimension 6"):
        k.check_features("other", 6)


def test_learn_calls_partial_fit_once():
    calls = []

    class Spy:
        def partial_fit(self, X, y):
            calls.append((X.shape, list(y)))

    learn(Spy(), "cup", np.zeros((4, 3), np.float32))
    assert calls == [((4, 3), ["cup"] * 4)]


@register
class GatedNCM(NCM):
    """NCM whose fit waits for a gate: lets a test reset the database while a teach is being fitted."""

    name = "test-gated-ncm"
    gate = threading.Event()
    fitting = threading.Event()

    def _fit(self, X, idx, task):
        GatedNCM.fitting.set()
        assert GatedNCM.gate.wait(10.0)
        super()._fit(X, idx, task)


def test_reset_during_a_teach_is_never_undone(tmp_path):
    path = tmp_path / "m.pt"
    k = Knowledge("test-gated-ncm", "", 0, str(path), False)
    GatedNCM.gate.set()
    k.teach("old", X(1.0), "enc")
    GatedNCM.gate.clear()
    GatedNCM.fitting.clear()
    errors = []

    def teach():
        try:
            k.teach("new", X(-1.0), "enc")
        except StaleUpdate as exc:
            errors.append(exc)

    t = threading.Thread(target=teach)
    t.start()
    assert GatedNCM.fitting.wait(10.0)  # the teach has copied the learner that knows "old"
    k.reset()
    GatedNCM.gate.set()
    t.join(10.0)
    assert len(errors) == 1 and "reset" in str(errors[0])
    assert k.classes() == [] and not path.exists()  # the copy with "old" was never swapped in or saved
    assert Knowledge("test-gated-ncm", "", 0, str(path), False).classes() == []


SMALL_CHHNN = '{"hidden": [32, 32], "T": 4, "new_steps": 5, "new_min_steps": 2, "consolidate_steps": 3}'


def test_consolidation_swaps_a_copy_keeps_the_version_and_saves(tmp_path):
    path = tmp_path / "m.pt"
    k = Knowledge("chhnn", SMALL_CHHNN, 0, str(path), False, feature_dim=6)
    k.teach("a", X(1.0, 20), "enc")
    assert k.consolidate() == 0  # one class: nothing to balance
    k.teach("b", X(-1.0, 20), "enc")
    before, version = k.learner, k.database_version
    assert k.consolidate() == 3
    assert k.learner is not before and before.n_consolidations == 0  # copy, fit, swap
    assert k.database_version == version and k.classes() == ["a", "b"]  # the classes did not change
    again = Knowledge("chhnn", SMALL_CHHNN, 0, str(path), False)
    assert again.learner.n_consolidations == 1 and again.database_version == version  # saved
    ncm = Knowledge("ncm", "", 0, "", False)
    ncm.teach("a", X(1.0), "enc")
    ncm.teach("b", X(-1.0), "enc")
    learner = ncm.learner
    assert ncm.consolidate() == 0 and ncm.learner is learner  # exact updates: nothing to do


def test_the_learning_thread_consolidates_after_a_teach_when_idle(tmp_path):
    from chhnn_ros.app.learning_loop import LearningLoop, TeachJob

    k = Knowledge("chhnn", SMALL_CHHNN, 0, str(tmp_path / "m.pt"), False, feature_dim=6)
    statuses, logs = [], []
    done = threading.Event()
    loop = LearningLoop(k, statuses.append, lambda: None,
                        lambda m: (logs.append(m), "consolidated" in m and done.set()))
    try:
        loop.put(TeachJob("a", X(1.0, 20), 20, "enc"))
        loop.put(TeachJob("b", X(-1.0, 20), 20, "enc"))
        assert done.wait(60.0), logs
    finally:
        loop.stop()
    assert [s.state for s in statuses] == ["learned", "learned"]
    assert k.learner.n_consolidations >= 1 and k.database_version == 2 and loop.last_consolidate_ms > 0


def test_a_teach_of_one_view_says_how_to_fix_it(tmp_path):
    from chhnn_ros.app.learning_loop import ONE_VIEW_HINT, LearningLoop, TeachJob

    k = Knowledge("ncm", "", 0, "", False, feature_dim=6)
    loop = LearningLoop(k, lambda s: None, lambda: None, lambda m: None)
    try:
        still = loop.run(TeachJob("a", X(1.0, 20), 1, "enc"))
        moving = loop.run(TeachJob("b", X(-1.0, 20), 5, "enc"))
        again = loop.run(TeachJob("b", X(-1.0, 20), 1, "enc"))  # a known class keeps its views
    finally:
        loop.stop()
    assert still.state == moving.state == again.state == "learned"
    assert still.message.endswith(ONE_VIEW_HINT)
    assert ONE_VIEW_HINT not in moving.message and ONE_VIEW_HINT not in again.message
