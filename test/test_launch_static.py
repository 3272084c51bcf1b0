"""launch/perception.launch.py evaluated by launch itself (which nodes, which parameters), the params
file it installs, and where the package finds its share directory."""

import ast
import runpy
from pathlib import Path

import pytest
import yaml

from chhnn_ros import params

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / "launch" / "perception.launch.py"


def _calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def _kw(call, key):
    return next((k.value for k in call.keywords if k.arg == key), None)


def console_scripts():
    """The executables (scripts/executables.py: setup.py's console scripts and lib/chhnn_ros)."""
    return runpy.run_path(str(ROOT / "scripts" / "executables.py"))["EXECUTABLES"]


def test_launch_file_parses_and_defines_generate():
    tree = ast.parse(LAUNCH.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)


def _launch_nodes(tmp_path, **args):
    """The Node actions perception.launch.py starts for these launch arguments (evaluated by launch itself)."""
    pytest.importorskip("launch_ros")
    import importlib.util

    from launch import LaunchContext
    from launch.actions import OpaqueFunction

    spec = importlib.util.spec_from_file_location("perception_launch", LAUNCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    desc = mod.generate_launch_description()
    ctx = LaunchContext()
    params_file = args.pop("params_file", ROOT / "config" / "perception.yaml")
    defaults = {a.name: a.default_value for a in desc.get_launch_arguments()}
    for a in desc.get_launch_arguments():
        ctx.launch_configurations[a.name] = "".join(
            s.perform(ctx) for s in defaults[a.name]) if a.name != "params_file" else str(params_file)
    ctx.launch_configurations.update({k: str(v) for k, v in args.items()})
    opaque = next(e for e in desc.entities if isinstance(e, OpaqueFunction))
    return {n._Node__node_name: n for n in opaque.execute(ctx)}, ctx


def _params(node, ctx):
    """The parameter dicts a launch_ros Node was given after its params file, evaluated."""
    from launch_ros.utilities import evaluate_parameters

    return [p for p in evaluate_parameters(ctx, node._Node__parameters) if isinstance(p, dict)]


def test_nodes_use_declared_console_scripts_and_names(tmp_path):
    scripts = console_scripts()
    nodes, _ = _launch_nodes(tmp_path)
    assert set(nodes) == set(params.NODE_PARAMS)
    for name, node in nodes.items():
        exe = node._Node__node_executable
        assert exe == f"{name}_node" and exe in scripts, f"{exe} is not a console script in setup.py"
        module = scripts[exe].split(":")[0]
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
    nodes, _ = _launch_nodes(tmp_path, use_camera="false")
    assert "camera" not in nodes


def test_launch_arguments_override_the_params_file_only_when_given(tmp_path):
    mine = tmp_path / "my.yaml"
    mine.write_text("/**/classifier:\n  ros__parameters:\n    learner: ncm\n")
    nodes, ctx = _launch_nodes(tmp_path, params_file=mine)
    assert all("learner" not in d for d in _params(nodes["classifier"], ctx))  # the file's learner: ncm stands
    assert all("device" not in d for n in nodes.values() for d in _params(n, ctx))
    nodes, ctx = _launch_nodes(tmp_path, params_file=mine, learner="slda", device="cpu", encoder="clip")
    assert {"learner": "slda"} in _params(nodes["classifier"], ctx)
    assert {"device": "cpu"} in _params(nodes["detector"], ctx)
    assert {"device": "cpu", "encoder": "clip"} in _params(nodes["encoder"], ctx)


def test_launch_checks_the_params_file_before_starting_nodes(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("clasifier:\n  ros__parameters:\n    learner: ncm\n")
    with pytest.raises(ValueError, match="did you mean 'classifier'"):
        _launch_nodes(tmp_path, params_file=bad)


def test_arguments_match_params():
    tree = ast.parse(LAUNCH.read_text())
    declared = {c.args[0].value for c in _calls(tree, "DeclareLaunchArgument")}
    assert declared == set(params.LAUNCH_ARGS)
    for arg, target in params.LAUNCH_ARGS.items():
        if target is None:
            continue
        for ref in target.split(","):
            node, name = ref.split(".")
            if node == "*":
                assert name in params.BUILTIN_PARAMS
            else:
                assert name in params.defaults(node), f"launch argument {arg} → unknown {ref}"


def test_params_file_covers_every_node_and_only_declared_keys():
    tree = ast.parse(LAUNCH.read_text())
    default = next(c for c in _calls(tree, "DeclareLaunchArgument") if c.args[0].value == "params_file")
    parts = [e.value for e in ast.walk(_kw(default, "default_value")) if isinstance(e, ast.Constant)]
    assert parts[-2:] == ["config", "perception.yaml"]
    cfg = yaml.safe_load((ROOT / "config" / "perception.yaml").read_text())
    for node in params.NODE_PARAMS:
        section = cfg[f"/**/{node}"]["ros__parameters"]
        assert set(section) <= set(params.defaults(node))
        assert set(section) == set(params.defaults(node))


def test_data_files_are_installed_by_setup():
    text = (ROOT / "setup.py").read_text()
    assert 'glob("launch/*.py")' in text and 'glob("config/*.yaml") + glob("config/*.xml")' in text
    assert (ROOT / "config" / "fastdds_large_data.xml").is_file()
    assert (ROOT / "resource" / "chhnn_ros").is_file()


def test_package_xml():
    import xml.etree.ElementTree as ET

    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.get("format") == "3" and root.findtext("name") == "chhnn_ros"
    assert root.findtext("license") == "AGPL-3.0-or-later"
    deps = {e.text for e in root.findall("exec_depend") + root.findall("depend")}  # depend = build + exec
    assert {"rclpy", "std_msgs", "sensor_msgs", "std_srvs", "diagnostic_msgs", "launch", "launch_ros",
            "ament_index_python", "python3-numpy", "python3-opencv", "python3-yaml"} <= deps
    # ament_cmake: the package generates its own interfaces (CMakeLists.txt) beside its Python package
    assert root.find("export/build_type").text == "ament_cmake"
    assert root.findtext("member_of_group") == "rosidl_interface_packages"
    assert {"ament_cmake", "ament_cmake_python", "rosidl_default_generators"} <= {
        e.text for e in root.findall("buildtool_depend")}
    assert {"builtin_interfaces", "std_msgs"} <= {e.text for e in root.findall("depend")}
    assert "rosidl_default_runtime" in deps


def test_share_dir_falls_back_to_the_source_tree(monkeypatch, tmp_path):
    from chhnn_ros.app import share

    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))  # an index without chhnn_ros
    monkeypatch.setattr(share.sys, "prefix", str(tmp_path))
    assert share.share_dir() == ROOT
    assert share.config_file("fastdds_large_data.xml") == ROOT / "config" / "fastdds_large_data.xml"
    # a pip-installed share directory wins over the source tree
    (tmp_path / "share" / "chhnn_ros" / "config").mkdir(parents=True)
    (tmp_path / "share" / "chhnn_ros" / "config" / "perception.yaml").write_text("{}")
    assert share.share_dir() == tmp_path / "share" / "chhnn_ros"


def test_dds_environment_keeps_user_settings(monkeypatch):
    from chhnn_ros.ros.dds import configure_process

    monkeypatch.delenv("FASTDDS_DEFAULT_PROFILES_FILE", raising=False)
    monkeypatch.delenv("ROS_AUTOMATIC_DISCOVERY_RANGE", raising=False)
    chosen = configure_process()
    assert chosen["FASTDDS_DEFAULT_PROFILES_FILE"].endswith("config/fastdds_large_data.xml")
    assert chosen["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    monkeypatch.setenv("FASTDDS_DEFAULT_PROFILES_FILE", "/mine.xml")
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET")
    assert configure_process() == {}
    import os

    assert os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] == "/mine.xml"


def test_fastdds_profile_shape():
    import xml.etree.ElementTree as ET

    ns = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    root = ET.parse(ROOT / "config" / "fastdds_large_data.xml").getroot()
    shm = root.find("f:transport_descriptors/f:transport_descriptor[f:type='SHM']", ns)
    assert int(shm.findtext("f:segment_size", namespaces=ns)) == 16 * 1024 * 1024
    udp = root.find("f:transport_descriptors/f:transport_descriptor[f:type='UDPv4']", ns)
    assert [a.text for a in udp.findall("f:interfaceWhiteList/f:address", ns)] == ["127.0.0.1"]
    part = root.find("f:participant", ns)
    assert part.get("is_default_profile") == "true"
    assert part.findtext("f:rtps/f:useBuiltinTransports", namespaces=ns) == "false"
