"""Named variants (``chhnn[memory_per_class=20]``), ``--method-params`` and ``chhnn-bench ablation``:
parsed in one place, checked against the constructors, recorded in the JSON reports."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chhnn_ros.bench import ablation, cli
from chhnn_ros.bench.variants import parse_method_params, resolve_methods
from chhnn_ros.learning.registry import format_variant, make_learner, parse_variant


def test_variant_parse_and_format():
    assert parse_variant("chhnn") == ("chhnn", {})
    assert parse_variant(" chhnn[memory_per_class=20, hidden=[128,128], prior=none] ") == (
        "chhnn", {"memory_per_class": 20, "hidden": [128, 128], "prior": "none"})
    assert format_variant("chhnn", {"memory_per_class": 20, "hidden": [128, 128], "prior": "none"}) == \
        "chhnn[memory_per_class=20,hidden=[128,128],prior=none]"
    learner = make_learner("chhnn[memory_per_class=20,T=3]", dim=16, seed=1)
    assert learner.name == "chhnn" and learner.config["memory_per_class"] == 20 and learner.config["T"] == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["prior", "meta_fn", "neuron", "optimizer"]),
                       st.one_of(st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=8),
                                 st.integers(), st.floats(allow_nan=False),
                                 st.booleans(), st.lists(st.integers(), max_size=3)), max_size=3))
def test_variant_text_round_trips(params):
    assert parse_variant(format_variant("chhnn", params)) == ("chhnn", params)


@pytest.mark.parametrize(("spec", "message"), [
    ("chhnn[memory_per_clas=20]", "valid keys: hidden, neuron"),
    ("nope[x=1]", "unknown learner 'nope'; available: "),
    ("chhnn[meta]", "use key=value"),
    ("chhnn[meta=1,meta=2]", "given twice"),
    ("chhnn-nometa[meta=1]", "no parameter 'meta'"),  # the ablation fixes it
    ("chhnn[T=[1]", "unbalanced brackets"),
    ("chhnn[T=1", "NAME or NAME"),
])
def test_bad_variants_say_what_is_valid(spec, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        parse_variant(spec)
    with pytest.raises(ValueError):
        make_learner(spec, dim=8)


def test_method_params_forms_and_errors():
    assert parse_method_params(["chhnn:{memory_per_class: 20}"]) == {"chhnn": {"memory_per_class": 20}}
    assert parse_method_params(["chhnn: {meta: 0}", "ncm: {scale: 4}"]) == {"chhnn": {"meta": 0}, "ncm": {"scale": 4}}
    assert parse_method_params(['{"chhnn": {"T": 4}, "ncm": {}}']) == {"chhnn": {"T": 4}, "ncm": {}}
    assert resolve_methods("chhnn[T=4],ncm", {"chhnn[T=4]": {"meta": 0}}) == ["chhnn[T=4,meta=0]", "ncm"]
    assert resolve_methods("chhnn,ncm", {"chhnn": {"memory_per_class": 20}}) == ["chhnn[memory_per_class=20]", "ncm"]
    with pytest.raises(ValueError, match="mapping"):
        parse_method_params(["chhnn: 20"])
    with pytest.raises(ValueError, match="not in --methods"):
        resolve_methods("ncm", {"chhnn": {"T": 4}})
    with pytest.raises(ValueError, match="valid keys"):
        resolve_methods("chhnn", {"chhnn": {"bogus": 1}})
    with pytest.raises(ValueError, match="set in the variant and in --method-params"):
        resolve_methods("chhnn[T=2]", {"chhnn": {"T": 4}})
    with pytest.raises(ValueError, match="listed twice"):
        resolve_methods("ncm,ncm[]", {})


def test_cl_records_variants_and_method_params(tmp_path):
    rc = cli.main(["cl", "--stream", "split-mnist", "--methods", "slda,slda[shrinkage=1.0],ncm",
                   "--method-params", "ncm: {scale: 4}", "--seeds", "1", "--train-per-class", "40",
                   "--test-per-class", "30", "--out", str(tmp_path), "--no-progress", "--no-plots"])
    assert rc == 0
    rep = json.loads((tmp_path / "split-mnist-class-il.json").read_text())
    assert set(rep["methods"]) == {"slda", "slda[shrinkage=1.0]", "ncm[scale=4]"}
    assert rep["methods"]["slda[shrinkage=1.0]"]["learner"] == "slda"
    assert rep["methods"]["slda[shrinkage=1.0]"]["params"] == {"shrinkage": 1.0}
    assert rep["methods"]["ncm[scale=4]"]["params"] == {"scale": 4}
    assert rep["methods"]["slda"]["params"] == {}
    assert rep["protocol"]["method_params"] == ["ncm: {scale: 4}"]
    # The parameter reached the learner: full shrinkage is a different classifier.
    assert rep["methods"]["slda"]["final_acc"] != rep["methods"]["slda[shrinkage=1.0]"]["final_acc"]


def test_cl_rejects_unknown_keys_before_running(tmp_path, capsys):
    assert cli.main(["cl", "--stream", "split-mnist", "--methods", "chhnn[memroy=3]", "--out", str(tmp_path)]) == 2
    assert "valid keys:" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_ablation_runs_through_the_cl_protocol(tmp_path):
    rc = ablation.main(["--quick", "--seeds", "2", "--streams", "split-mnist-1teach", "--mechanisms", "full,no-meta",
                        "--budgets", "compact", "--references", "ncm", "--test-per-class", "20",
                        "--method-params", "chhnn: {steps: 2, new_steps: 2, T: 2, hidden: [32, 32]}",
                        "--out", str(tmp_path), "--no-progress"])
    assert rc == 0
    res = json.loads((tmp_path / "ablation.json").read_text())
    assert set(res["variants"]) == {"full@compact", "no-meta@compact", "ncm"}
    full = res["variants"]["full@compact"]
    assert full["learner"] == "chhnn" and full["params"]["T"] == 2 and full["params"]["meta"] > 0
    assert full["params"]["memory"] == "stats" and full["params"]["prior"] == "auto"
    assert res["variants"]["no-meta@compact"]["params"]["meta"] == 0.0
    entry = full["streams"]["split-mnist-1teach"]
    assert set(entry) == {"final_acc", "forgetting", "bytes_per_class", "update_ms", "consolidate_ms"}
    assert set(entry["final_acc"]) == {"mean", "std"} and 0 <= entry["final_acc"]["mean"] <= 100
    assert entry["bytes_per_class"] > 0 and entry["update_ms"] > 0 and entry["consolidate_ms"] > 0
    stream = res["streams"]["split-mnist-1teach"]
    assert stream["protocol"]["train_per_class"] == 20 and stream["protocol"]["classes_per_step"] == 1
    assert stream["protocol"]["seeds"] == [0, 1]
    check = res["checks"]["full-minus-no-meta@compact"]
    assert check["mean"] == pytest.approx(entry["final_acc"]["mean"] -
                                          res["variants"]["no-meta@compact"]["streams"]["split-mnist-1teach"]
                                          ["final_acc"]["mean"])
    assert (tmp_path / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "ablation.md").read_text()
    assert "| full@compact |" in md and "chhnn-bench ablation" in md
    cl_rep = json.loads((tmp_path / "streams" / "split-mnist-1teach-class-il.json").read_text())
    assert len(cl_rep["methods"][full["method"]]["seeds"]) == 2


def test_ablation_bad_arguments_exit_2(tmp_path, capsys):
    assert ablation.main(["--streams", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown stream" in capsys.readouterr().err
    assert ablation.main(["--method-params", "chhnn: {meta: 1}", "--out", str(tmp_path)]) == 2
    assert "sets meta" in capsys.readouterr().err
