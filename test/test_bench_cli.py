"""`chhnn-bench` end to end: a small quick run writing JSON, markdown and PNGs."""

import json
import subprocess
import sys

import pytest
from test_bench_protocol import MeanLearner, RecencyLearner, TaskLearner

from chhnn_ros.bench import cli
from chhnn_ros.learning import registry


def cheap_baselines() -> list[str]:
    """The real statistical baselines, once registered (they train in milliseconds)."""
    return [m for m in ("ncm", "slda") if m in registry.available()]


@pytest.fixture
def learners(monkeypatch):
    for cls in (MeanLearner, RecencyLearner, TaskLearner):
        monkeypatch.setitem(registry._REGISTRY, cls.name, cls)


def test_cl_quick_run_writes_report(learners, tmp_path, capsys):
    cheap = cheap_baselines()
    methods = ["test-mean", "test-recency", "test-task", *cheap]
    rc = cli.main(["cl", "--stream", "split-mnist", "--scenario", "class-il", "--methods", ",".join(methods),
                   "--seeds", "2", "--quick", "--train-per-class", "40", "--test-per-class", "30",
                   "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    rep = json.loads((tmp_path / "split-mnist-class-il.json").read_text())
    assert rep["stream"] == "split-mnist" and rep["scenario"] == "class-il" and rep["frontend"] == "pixels"
    assert rep["protocol"]["teach_size"] == 20 and rep["protocol"]["steps"] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert rep["protocol"]["n_train"] == 400 and rep["protocol"]["seeds"] == [0, 1]
    assert {"cpu", "cores", "torch"} <= set(rep["machine"])
    assert "task ids" in rep["skipped"]["test-task"]
    assert set(rep["methods"]) == {"test-mean", "test-recency", *cheap}
    keys = {"final_acc", "final_acc_std", "avg_inc_acc", "forgetting", "bwt", "max_min_gap", "update_ms",
            "consolidate_ms", "bytes_per_class", "n_params", "acc_matrix", "seeds"}
    for m in rep["methods"].values():
        assert keys <= set(m)
        assert len(m["seeds"]) == 2 and m["seeds"][1]["seed"] == 1
        assert m["acc_matrix"][0][1] is None  # NaN (not yet seen) → null
        assert m["update_ms"] > 0
    mean, recency = rep["methods"]["test-mean"], rep["methods"]["test-recency"]
    assert mean["final_acc"] > 60 and mean["bytes_per_class"] == 784 * 8 + 8
    # Only the newest digit is ever predicted: each step peaks at 50 % (its newer digit) then drops to 0.
    assert recency["final_acc"] == pytest.approx(10.0) and recency["forgetting"] == 50.0 and recency["bwt"] == -50.0
    for name in ("split-mnist-class-il-matrix.png", "split-mnist-class-il-curve.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("| test-")]
    assert table[0].startswith("| test-mean |") and table[1].startswith("| test-recency |")  # sorted by final acc
    assert ("| method | final acc | avg inc acc | forgetting | BWT | max−min | update ms | consolidate ms "
            "| bytes/class | params |") in out
    assert (tmp_path / "split-mnist-class-il.md").read_text().startswith("| method |")


def test_cl_task_il_and_domain_il(learners, tmp_path):
    common = ["--methods", "test-recency,test-task", "--seeds", "1", "--train-per-class", "30",
              "--test-per-class", "20", "--out", str(tmp_path), "--no-progress", "--no-plots"]
    assert cli.main(["cl", "--stream", "split-mnist", "--scenario", "task-il", *common]) == 0
    rep = json.loads((tmp_path / "split-mnist-task-il.json").read_text())
    assert rep["skipped"] == {} and rep["methods"]["test-task"]["final_acc"] > 85
    assert rep["methods"]["test-recency"]["final_acc"] > 70
    assert cli.main(["cl", "--stream", "permuted-mnist", "--scenario", "domain-il", "--permutations", "2",
                     *common]) == 0
    rep = json.loads((tmp_path / "permuted-mnist-domain-il.json").read_text())
    assert rep["protocol"]["n_steps"] == 2 and rep["methods"]["test-task"]["acc_matrix"][0][1] is not None


def test_cl_bad_arguments_exit_2(learners, tmp_path, capsys):
    assert cli.main(["cl", "--stream", "split-mnist", "--methods", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown method" in capsys.readouterr().err
    assert cli.main(["cl", "--stream", "permuted-mnist", "--methods", "test-mean", "--out", str(tmp_path)]) == 2
    assert "domain-il" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["cl", "--stream", "split-mnist", "--teach-size", "0"])
    assert exc.value.code == 2
    assert not list(tmp_path.iterdir())


def test_unknown_subcommand_exits_2():
    r = subprocess.run([sys.executable, "-m", "chhnn_ros.bench.cli", "bogus"], capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice" in r.stderr
