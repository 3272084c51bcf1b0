"""params.py is the one source of node parameters; the YAML must not drift from it."""

import re
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
    from rcl_interfaces.msg import ParameterType
    from rclpy.parameter import Parameter

    from chhnn_ros.ros.parameters import declare

    ctx = rclpy.Context()
    rclpy.init(context=ctx, args=["x", "--ros-args", "-p", "rate:=15"])  # an int for a float parameter
    try:
        node = rclpy.create_node("camera", context=ctx)
        applied = []
        values = declare(node, "camera", lambda name, value: applied.append((name, value)))
        assert values["rate"] == 15.0 and values["source"] == "sim"
        desc = node.describe_parameter("rate")
        assert "Hz" in desc.description and not desc.read_only and desc.type == ParameterType.PARAMETER_DOUBLE
        assert (desc.floating_point_range[0].from_value, desc.floating_point_range[0].to_value) == (0.1, 1000.0)
        seed = node.describe_parameter("seed")
        assert seed.read_only and seed.integer_range[0].to_value == 2**31 - 1
        assert "one of: sim" in node.describe_parameter("source").additional_constraints
        assert not node.set_parameters([Parameter("seed", value=3)])[0].successful  # needs a restart
        assert not node.set_parameters([Parameter("rate", value=5000.0)])[0].successful  # out of range
        assert node.set_parameters([Parameter("rate", value=5.0)])[0].successful
        assert values["rate"] == 5.0 and applied == [("rate", 5.0)]
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)


@pytest.mark.parametrize("args, match", [
    (["-p", "teach_sampels:=3"], "classifier has no parameter 'teach_sampels' (did you mean 'teach_samples'?)"),
    (["-p", "learner:=ncm"], None),  # a parameter of another of our nodes: a global -p reaches every node
])
def test_unknown_parameter_fails_the_start(args, match):
    rclpy = pytest.importorskip("rclpy")
    from chhnn_ros.ros.parameters import declare

    ctx = rclpy.Context()
    rclpy.init(context=ctx, args=["x", "--ros-args", *args])
    try:
        node = rclpy.create_node("classifier" if match else "camera", context=ctx)
        if match:
            with pytest.raises(ValueError, match=re.escape(match)):
                declare(node, "classifier")
        else:
            declare(node, "camera")
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)


@pytest.mark.parametrize("text, match", [
    ("clasifier:\n  ros__parameters:\n    learner: ncm\n", "section 'clasifier' names no chhnn_ros node (did you mean "
     "'classifier'?)"),
    ("/**/classifier:\n  ros__parameters:\n    teach_sampels: 3\n", "(did you mean 'teach_samples'?)"),
    ("/**:\n  ros__parameters:\n    lerner: ncm\n", "(did you mean 'learner'?)"),
    ("/**/classifier:\n  learner: ncm\n", "no 'ros__parameters'"),
    ("[1, 2]\n", "expected a mapping"),
])
def test_params_file_check(tmp_path, text, match):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(match)):
        params.check_params_file(path)


def test_params_file_check_accepts_ours_and_foreign_nodes(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(params.render_yaml() + "/**/usb_cam:\n  ros__parameters:\n    video_device: /dev/video0\n")
    params.check_params_file(path)


def test_parameter_reference_is_generated_from_params():
    text = (ROOT / "docs" / "parameters.md").read_text()
    assert text == params.render_markdown(), "docs/parameters.md drifted: python -m chhnn_ros.params --markdown > it"
    live = {p.name for p in params.params_for("classifier") if p.live}
    assert {"min_confidence", "unknown_label", "teach_samples", "teach_timeout", "diagnostics_period"} <= live
    assert {p.name for p in params.params_for("detector") if p.live} >= {"threshold", "max_det", "min_size"}
