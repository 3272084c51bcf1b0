"""Gazebo integration checked statically (gz sim, ros_gz and launch are not installable here):
the world has the sensors, the bridge matches the world and the perception launch, the sim launch
file references what exists and is installed."""

import ast
import re
import runpy
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORLD = ROOT / "worlds" / "tabletop.sdf"
BRIDGE = ROOT / "config" / "gz_bridge.yaml"
SIM_LAUNCH = ROOT / "launch" / "sim.launch.py"
PERCEPTION_LAUNCH = ROOT / "launch" / "perception.launch.py"
# ROS type ↔ Gazebo type pairs ros_gz_bridge converts (its README's table)
BRIDGE_TYPES = {
    "rosgraph_msgs/msg/Clock": "gz.msgs.Clock",
    "sensor_msgs/msg/Image": "gz.msgs.Image",
    "sensor_msgs/msg/CameraInfo": "gz.msgs.CameraInfo",
    "vision_msgs/msg/Detection2DArray": "gz.msgs.AnnotatedAxisAligned2DBox_V",
}


def world():
    return ET.parse(WORLD).getroot()


def sensors(kind, root=None):
    return [s for s in (root or world()).iter("sensor") if s.get("type") == kind]


def bridge():
    entries = yaml.safe_load(BRIDGE.read_text())
    return {e["gz_topic_name"]: e for e in entries}


def calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def kw(call, key):
    return next((k.value for k in call.keywords if k.arg == key), None)


def constants(node, tree=None):
    """String/number constants under ``node``, following names assigned in ``tree``."""
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.Constant):
            out.append(n.value)
        elif isinstance(n, ast.Name) and tree is not None:
            for a in ast.walk(tree):
                if isinstance(a, ast.Assign) and any(getattr(t, "id", None) == n.id for t in a.targets):
                    out += constants(a.value, tree)
    return out


def test_world_is_sdf_19_with_systems_and_a_floor_and_table():
    root = world()
    assert root.tag == "sdf" and tuple(map(int, root.get("version").split("."))) >= (1, 9)
    w = root.find("world")
    plugins = {p.get("name") for p in w.findall("plugin")}
    assert {"gz::sim::systems::Physics", "gz::sim::systems::Sensors", "gz::sim::systems::SceneBroadcaster"} <= plugins
    sensors_plugin = next(p for p in w.findall("plugin") if p.get("name") == "gz::sim::systems::Sensors")
    assert sensors_plugin.findtext("render_engine") == "ogre2"
    models = {m.get("name"): m for m in w.findall("model")}
    assert models["ground_plane"].find(".//plane") is not None and models["table"].findtext("static") == "true"
    # offline: no Fuel / remote model includes
    assert not w.findall(".//include")
    assert not [u.text for u in w.iter("uri") if "://" in (u.text or "")]


def test_world_has_several_distinct_labelled_objects():
    w = world().find("world")
    objects = [m for m in w.findall("model") if m.find("plugin[@name='gz::sim::systems::Label']") is not None]
    assert len(objects) >= 4
    labels = [int(m.find("plugin/label").text) for m in objects]
    assert len(set(labels)) == len(labels) and all(1 <= v <= 255 for v in labels)
    looks = set()
    for m in objects:
        link = m.find("link")
        assert m.findtext("static") in (None, "false")  # dynamic, can be pushed or picked
        assert link.find("inertial/mass") is not None and link.find("collision/geometry") is not None
        geom = link.find("visual/geometry")[0].tag
        colour = link.findtext("visual/material/diffuse")
        looks.add((geom, colour))
        z = float(m.findtext("pose").split()[2])
        assert 0.42 < z < 0.6  # resting on the table top (0.42 m)
    assert len(looks) == len(objects)  # no two objects look alike


def test_world_has_camera_and_boundingbox_camera_with_the_same_view():
    root = world()
    (cam,), (box,) = sensors("camera", root), sensors("boundingbox_camera", root)
    assert box.findtext("camera/box_type") == "2d"
    for tag in ("camera/horizontal_fov", "camera/image/width", "camera/image/height", "update_rate"):
        assert cam.findtext(tag) == box.findtext(tag), tag
    assert cam.findtext("always_on") == box.findtext("always_on") == "1"
    rig = next(m for m in root.iter("model") if cam in list(m.iter("sensor")))
    assert box in list(rig.iter("sensor")) and rig.findtext("static") == "true"
    assert cam.findtext("topic") and cam.findtext("camera/camera_info_topic") and box.findtext("topic")


def test_bridge_matches_world_topics_and_types():
    b = bridge()
    (cam,), (box,) = sensors("camera"), sensors("boundingbox_camera")
    wanted = {cam.findtext("topic"): "sensor_msgs/msg/Image",
              cam.findtext("camera/camera_info_topic"): "sensor_msgs/msg/CameraInfo",
              box.findtext("topic"): "vision_msgs/msg/Detection2DArray", "/clock": "rosgraph_msgs/msg/Clock"}
    assert set(b) == set(wanted)
    for gz_topic, ros_type in wanted.items():
        e = b[gz_topic]
        assert e["ros_type_name"] == ros_type and e["gz_type_name"] == BRIDGE_TYPES[ros_type]
        assert e["direction"] == "GZ_TO_ROS"
        assert re.fullmatch(r"(/[A-Za-z][\w]*)+", e["ros_topic_name"]), e["ros_topic_name"]
    assert b["/clock"]["ros_topic_name"] == "/clock"  # use_sim_time nodes read /clock


def test_sim_launch_starts_gz_bridge_and_perception_with_sim_time():
    tree = ast.parse(SIM_LAUNCH.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    includes = calls(tree, "IncludeLaunchDescription")
    gz = [c for c in includes if "gz_sim.launch.py" in constants(c.args[0], tree)]
    assert len(gz) == 2  # GUI and headless, chosen by the headless argument
    gz_args = [constants(kw(c, "launch_arguments"), tree) for c in gz]
    assert any("-s -r --headless-rendering " in a for a in gz_args) and any("-r " in a for a in gz_args)
    assert {kw(c, "condition").func.id for c in gz} == {"IfCondition", "UnlessCondition"}
    (bridge_node,) = [c for c in calls(tree, "Node") if constants(kw(c, "package")) == ["ros_gz_bridge"]]
    assert kw(bridge_node, "executable").value == "parameter_bridge"
    assert "config_file" in constants(kw(bridge_node, "parameters"))
    # perception.launch.py: every argument passed is one it declares; sim time on; its camera off
    (perc,) = [c for c in includes if "perception.launch.py" in constants(c.args[0], tree)]
    d = kw(perc, "launch_arguments").func.value
    passed = {k.value: v for k, v in zip(d.keys, d.values)}
    declared = {c.args[0].value for c in calls(ast.parse(PERCEPTION_LAUNCH.read_text()), "DeclareLaunchArgument")}
    assert set(passed) <= declared
    assert passed["use_sim_time"].value == "true" and passed["use_camera"].value == "false"
    # the detector's image remap is the image the bridge publishes
    assert passed["image_topic"].id == "IMAGE_TOPIC"
    assert module_constant(tree, "IMAGE_TOPIC") == bridge()[sensors("camera")[0].findtext("topic")]["ros_topic_name"]
    # the gz_truth node feeds the groundtruth detector: its boxes input is the bridged boxes topic,
    # its 'truth' output lands in the perception namespace (the default detector reads it)
    (truth,) = [c for c in calls(tree, "Node") if constants(kw(c, "package"), tree) == ["chhnn_ros"]]
    scripts = runpy.run_path(str(ROOT / "scripts" / "executables.py"))["EXECUTABLES"]  # pip's and colcon's
    module = scripts[kw(truth, "executable").value].split(":")[0]
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
    (remap,) = kw(truth, "remappings").elts
    assert remap.elts[0].value == "boxes" and remap.elts[1].id == "BOXES_TOPIC"
    assert module_constant(tree, "BOXES_TOPIC") == bridge()[sensors("boundingbox_camera")[0].findtext("topic")][
        "ros_topic_name"]
    assert constants(kw(truth, "namespace")) == ["namespace"] and passed["namespace"].args[0].value == "namespace"
    default_detector = next(kw(c, "default_value").value for c in calls(tree, "DeclareLaunchArgument")
                            if c.args[0].value == "detector")
    # not given: the params file's detector, the groundtruth detector that reads these boxes
    from chhnn_ros import params

    assert default_detector == params.UNSET and params.defaults("detector")["detector"] == "groundtruth"


def module_constant(tree, name):
    return next(n.value.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == name)


def test_gazebo_boxes_become_truth_the_detector_reads():
    from chhnn_ros.sim.gz_truth import truth_detections

    dets = truth_detections([(100.0, 50.0, 20.0, 10.0, "3"), (5.0, 5.0, 0.0, 4.0, "1"), (10.0, 10.0, 4.0, 4.0, "")])
    assert [(d.box, d.class_name, d.track_id) for d in dets] == [
        ((90.0, 45.0, 110.0, 55.0), "label_3", 3), ((8.0, 8.0, 12.0, 12.0), "object", None)]
    # the detector's checks accept what gz_truth_node publishes
    Time = pytest.importorskip("builtin_interfaces.msg").Time
    messages = pytest.importorskip("chhnn_ros.ros.messages")

    msg = messages.detections_to_msg(messages.header(Time(sec=12, nanosec=5), "camera_rig/link/camera"), dets, (0, 0))
    back = messages.detections_to_dict(msg)
    assert [d.box for d in back["detections"]] == [d.box for d in dets] and back["stamp"] == {"sec": 12, "nanosec": 5}


def test_sim_launch_defaults_point_at_installed_files():
    tree = ast.parse(SIM_LAUNCH.read_text())
    defaults = {c.args[0].value: kw(c, "default_value") for c in calls(tree, "DeclareLaunchArgument")}
    for arg, path in (("world", WORLD), ("bridge_config", BRIDGE)):
        parts = constants(defaults[arg])
        assert parts[-2:] == [path.parent.name, path.name] and path.is_file()
    setup = (ROOT / "setup.py").read_text()
    assert 'glob("worlds/*.sdf")' in setup and 'glob("launch/*.py")' in setup and 'glob("config/*.yaml")' in setup
