"""The package's own messages and services (msg/, srv/): every definition is built, imports from
the source tree and from elsewhere, round-trips through serialisation, is readable the way
`ros2 interface show` reads it, and crosses processes (topic and service)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFINITIONS = sorted(f"{p.parent.name}/{p.stem}" for p in [*ROOT.glob("msg/*.msg"), *ROOT.glob("srv/*.srv")])


def _require_interfaces() -> None:
    """Skip when the interfaces were never built here; CI's tools/setup.sh builds them, so there
    (CI set) their absence fails. Built but broken (an import error) always fails."""
    if importlib.util.find_spec("chhnn_ros.msg") is None or importlib.util.find_spec("chhnn_ros.srv") is None:
        reason = ("chhnn_ros.msg / chhnn_ros.srv are not built in this environment: run tools/setup.sh "
                  "(CMake build into the venv) or colcon build + source install/setup.bash")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    importlib.import_module("chhnn_ros.msg")
    importlib.import_module("chhnn_ros.srv")


@pytest.fixture(autouse=True)
def interfaces() -> None:
    _require_interfaces()


@pytest.fixture
def ament_prefix(monkeypatch) -> None:
    """ament_index needs AMENT_PREFIX_PATH; the pip-installed wheels do not set it (the venv's
    activate does, through chhnn-env). monkeypatch restores it."""
    if not os.environ.get("AMENT_PREFIX_PATH"):
        monkeypatch.setenv("AMENT_PREFIX_PATH", sys.prefix)


def interface_class(name: str):
    kind, typ = name.split("/")
    return getattr(importlib.import_module(f"chhnn_ros.{kind}"), typ)


def concrete_classes():
    """(name, class) of every message, and of every service's Request and Response."""
    out = []
    for name in DEFINITIONS:
        cls = interface_class(name)
        if name.startswith("srv/"):
            out += [(f"{name}.Request", cls.Request), (f"{name}.Response", cls.Response)]
        else:
            out.append((name, cls))
    return out


def filled(cls):
    """An instance of ``cls`` with every field set to a value that is not its default (recursively;
    sequences get two elements, bounded ones up to their bound)."""
    from rosidl_parser.definition import AbstractGenericString, AbstractNestedType, BasicType, NamespacedType

    def value(t):
        if isinstance(t, AbstractNestedType):
            n = min(2, getattr(t, "maximum_size", 2))
            return [value(t.value_type) for _ in range(n)]
        if isinstance(t, NamespacedType):
            mod = importlib.import_module(".".join(t.namespaces))
            return filled(getattr(mod, t.name))
        if isinstance(t, AbstractGenericString):
            return "cup ü"
        assert isinstance(t, BasicType) and t.typename not in ("octet", "char", "wchar"), t  # none used here
        if t.typename == "boolean":
            return True
        if t.typename in ("float", "double", "long double"):
            return 0.5
        return 7  # every integer type

    msg = cls()
    for field, t in zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES, strict=True):
        setattr(msg, field, value(t))
    return msg


def test_every_definition_is_built_and_listed(ament_prefix):
    from rosidl_runtime_py import get_interfaces

    assert DEFINITIONS, "no msg/*.msg or srv/*.srv in the source tree"
    assert sorted(get_interfaces(["chhnn_ros"])["chhnn_ros"]) == DEFINITIONS
    for name in DEFINITIONS:
        assert interface_class(name).__name__ == name.split("/")[1]


def test_interface_show_reads_every_definition(ament_prefix):
    """`ros2 interface show chhnn_ros/msg/X` prints the installed definition that
    get_interface_path finds: it must be the source's, comments included."""
    from rosidl_runtime_py import get_interface_path

    for name in DEFINITIONS:
        path = Path(get_interface_path(f"chhnn_ros/{name}"))
        source = ROOT / (name + (".msg" if name.startswith("msg/") else ".srv"))
        assert path.name == source.name, path
        assert path.read_text() == source.read_text(), f"installed {path} differs from {source}: rebuild"


@pytest.mark.parametrize("name", [n for n in DEFINITIONS])
def test_round_trip_through_serialisation(name):
    from rclpy.serialization import deserialize_message, serialize_message

    cls = interface_class(name)
    for c in ([cls.Request, cls.Response] if name.startswith("srv/") else [cls]):
        for msg in (c(), filled(c)):
            back = deserialize_message(serialize_message(msg), c)
            assert back == msg, f"{c.__name__} changed in a round trip"
        assert filled(c) != c() or not c.SLOT_TYPES  # the filler really sets fields


def test_feature_array_carries_a_float32_matrix():
    """The features hop: a (n, dim) float32 matrix in, the same bits out, without a copy per element."""
    import array

    from rclpy.serialization import deserialize_message, serialize_message

    from chhnn_ros.msg import BoundingBox2D, Detection, FeatureArray, ObjectHypothesis

    X = np.random.default_rng(0).standard_normal((3, 1280)).astype(np.float32)
    dets = [Detection(bbox=BoundingBox2D(center_x=10.0 + i, center_y=20.0, size_x=4.0, size_y=6.0),
                      hypothesis=ObjectHypothesis(label="cup", score=0.9), track_id=i) for i in range(3)]
    msg = FeatureArray(detections=dets, encoder="efficientnet", dim=X.shape[1],
                       data=array.array("f", X.tobytes()))
    back = deserialize_message(serialize_message(msg), FeatureArray)
    Y = np.frombuffer(back.data, dtype=np.float32).reshape(len(back.detections), back.dim)
    assert np.array_equal(Y, X) and back.encoder == "efficientnet"
    assert [d.track_id for d in back.detections] == [0, 1, 2]
    # a float64 array or a list is taken too (converted), NaN survives for the receiver's check
    msg.data = X.astype(np.float64).ravel().tolist()
    msg.data[5] = float("nan")
    back = deserialize_message(serialize_message(msg), FeatureArray)
    assert np.isnan(np.frombuffer(back.data, dtype=np.float32)[5])


def test_constants_and_defaults():
    from rclpy.serialization import deserialize_message, serialize_message

    from chhnn_ros.msg import BoundingBox2D, Detection, LabelledObject, TeachStatus
    from chhnn_ros.srv import Teach

    assert (TeachStatus.COLLECTING, TeachStatus.LEARNED, TeachStatus.FORGOTTEN, TeachStatus.ERROR) == (0, 1, 2, 3)
    assert Detection.NO_TRACK == Teach.Request.NO_TRACK == -1
    assert Detection().track_id == LabelledObject().track_id == Teach.Request().track_id == Detection.NO_TRACK
    req = Teach.Request(label="cup")
    assert req.samples == 0 and list(req.box) == []  # 0: the classifier's teach_samples; no box
    req.box = [BoundingBox2D(center_x=5.0, center_y=5.0, size_x=2.0, size_y=2.0)]
    assert deserialize_message(serialize_message(req), Teach.Request) == req
    # The box is optional: at most one. rclpy checks field values on assignment only with
    # ROS_PYTHON_CHECK_FIELDS set (Kilted); without it the bound holds when the message is sent.
    req.box = [BoundingBox2D(), BoundingBox2D()]
    with pytest.raises(Exception, match="serialize"):
        serialize_message(req)


SERVER = textwrap.dedent("""
    import json, sys, rclpy, chhnn_ros, chhnn_ros.msg
    from chhnn_ros.msg import LabelledObject, LabelledObjectArray, ObjectHypothesis, BoundingBox2D
    from chhnn_ros.srv import Teach
    rclpy.init()
    node = rclpy.create_node("interfaces_server")
    pub = node.create_publisher(LabelledObjectArray, "objects", 10)
    def teach(req, resp):
        resp.success, resp.message = True, f"learned {req.label!r} from track {req.track_id}"
        resp.database_version, resp.samples_used, resp.views = 4, req.samples, 3
        return resp
    node.create_service(Teach, "teach", teach)
    def tick():
        obj = LabelledObject(bbox=BoundingBox2D(center_x=50.0, center_y=40.0, size_x=20.0, size_y=10.0),
                             label="mug", score=0.75, known=True, known_score=0.75,
                             nearest=ObjectHypothesis(label="mug", score=0.75),
                             detection=ObjectHypothesis(label="cup", score=0.5), track_id=9)
        msg = LabelledObjectArray(database_version=3, objects=[obj])
        msg.header.frame_id = "camera"
        pub.publish(msg)
    node.create_timer(0.1, tick)
    print(json.dumps({"package": chhnn_ros.__file__, "msg": chhnn_ros.msg.__file__}), flush=True)
    try:
        rclpy.spin(node)
    except Exception:
        pass
""")

CLIENT = textwrap.dedent("""
    import json, time, rclpy, chhnn_ros, chhnn_ros.msg
    from chhnn_ros.msg import LabelledObjectArray
    from chhnn_ros.srv import Teach
    rclpy.init()
    node = rclpy.create_node("interfaces_client")
    got = []
    node.create_subscription(LabelledObjectArray, "objects", got.append, 10)
    end = time.monotonic() + 25
    while not got and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    cli = node.create_client(Teach, "teach")
    assert cli.wait_for_service(timeout_sec=max(1.0, end - time.monotonic())), "no teach service"
    fut = cli.call_async(Teach.Request(label="mug", samples=12, track_id=9))
    rclpy.spin_until_future_complete(node, fut, timeout_sec=10)
    r, o = fut.result(), got[0].objects[0]
    print(json.dumps({"package": chhnn_ros.__file__, "msg": chhnn_ros.msg.__file__,
                      "frame_id": got[0].header.frame_id, "version": got[0].database_version,
                      "label": o.label, "detector": o.detection.label, "track": o.track_id, "size_x": o.bbox.size_x,
                      "success": r.success, "message": r.message, "samples_used": r.samples_used,
                      "views": r.views, "db": r.database_version}))
    rclpy.shutdown()
""")


def _env(domain: int) -> dict[str, str]:
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    # the server must import the installed package: keep PYTHONPATH (a colcon install needs it) but
    # without the source tree
    path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and Path(p).resolve() != ROOT]
    env["PYTHONPATH"] = os.pathsep.join(path)
    return env


def test_topic_and_service_between_processes(tmp_path):
    """Server in an unrelated directory (the installed package), client in the source tree (the
    checkout's chhnn_ros with the installed chhnn_ros.msg found through its extended __path__)."""
    from chhnn_ros.ros.dds import allocate_domain

    env = _env(allocate_domain())
    server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=tmp_path, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        where = json.loads(server.stdout.readline() or "{}")
        assert where, f"server did not start: {server.stderr.read() if server.poll() is not None else ''}"
        client = subprocess.run([sys.executable, "-c", CLIENT], cwd=ROOT, env=env, text=True,
                                capture_output=True, timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert client.returncode == 0, client.stderr[-3000:]
    out = json.loads(client.stdout.strip().splitlines()[-1])
    source = ROOT / "chhnn_ros"  # (a venv may live inside the checkout: compare with the package folder)
    assert Path(where["package"]).resolve().parent != source  # installed chhnn_ros
    assert Path(out["package"]).resolve().parent == source  # source tree chhnn_ros ...
    assert Path(out["msg"]).resolve().parent.parent != source  # ... with the installed chhnn_ros.msg
    assert out["frame_id"] == "camera" and out["version"] == 3
    assert (out["label"], out["detector"], out["track"], out["size_x"]) == ("mug", "cup", 9, 20.0)
    assert out["success"] and out["message"] == "learned 'mug' from track 9"
    assert (out["samples_used"], out["views"], out["db"]) == (12, 3, 4)
