"""params.py is the one source of node parameters; the YAML must not drift from it."""

from pathlib import Path

import pytest
import yaml

from chhnn_ros import params

ROOT = Path(__file__).resolve().parents[1]


def test_yaml_is_generated_from_params():
    text = (ROOT / "config" / "perception.yaml").read_text()
    assert text == params.render_yaml(), "config/perception.yaml drifted: python -m chhnn_ros.params > it"
    assert yaml.safe_load(text) == params.yaml_config()


def test_every_param_is_described_and_typed():
    for node, ps in params.NODE_PARAMS.items():
        names = [p.name for p in ps]
        assert len(names) == len(set(names)), node
        for p in ps:
            assert len(p.description) > 10 and isinstance(p.default, bool | int | float | str)
            if p.choices:
                assert p.default in p.choices
            if p.bounds:
                assert p.check(p.default) == p.default


def test_required_defaults():
    assert params.defaults("classifier")["learner"] == "chhnn"
    assert params.defaults("classifier")["teach_samples"] == 20
    assert params.defaults("detector")["image_reliability"] == "best_effort"


def test_check_coerces_and_rejects():
    rate = next(p for p in params.params_for("camera") if p.name == "rate")
    assert rate.check(15) == 15.0 and isinstance(rate.check(15), float)
    with pytest.raises(ValueError, match="'rate' must be float"):
        rate.check("fast")
    src = next(p for p in params.params_for("camera") if p.name == "source")
    with pytest.raises(ValueError, match="not one of"):
        src.check("webcam")
    samples = next(p for p in params.params_for("classifier") if p.name == "teach_samples")
    with pytest.raises(ValueError):
        samples.check(True)
    with pytest.raises(ValueError, match="unknown node"):
        params.params_for("planner")
    size = next(p for p in params.params_for("detector") if p.name == "crop_size")
    pad = next(p for p in params.params_for("detector") if p.name == "crop_pad")
    assert size.check(2048) == 2048 and pad.check(0) == 0.0
    for param, bad in ((size, 0), (size, 4096), (pad, -0.1), (pad, float("nan"))):
        with pytest.raises(ValueError, match=f"'{param.name}' must be in"):
            param.check(bad)


def test_declare_on_a_real_node():
    rclpy = pytest.importorskip("rclpy")
    from rclpy.parameter import Parameter

    ctx = rclpy.Context()
    rclpy.init(context=ctx, args=["x", "--ros-args", "-p", "rate:=15"])  # an int for a float parameter
    try:
        node = rclpy.create_node("camera", context=ctx)
        values = params.declare(node, "camera")
        assert values["rate"] == 15.0 and values["source"] == "sim"
        desc = node.describe_parameter("rate")
        assert "Hz" in desc.description
        node.set_parameters([Parameter("seed", value=3)])
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)


def test_readme_parameter_tables_are_generated_from_params():
    readme = (ROOT / "README.md").read_text()
    assert params.render_markdown() in readme, "README parameter tables drifted: python -m chhnn_ros.params --markdown"
