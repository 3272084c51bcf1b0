"""The web node in a real graph: camera → detector → encoder → classifier + web, one process per
node as the launch file starts them, sim scene.  Over HTTP with a token: the console sees the
objects, bad teach input is refused with the parser's message and changes nothing, a teach by track
id is learned and then labels that object, forget works, /diagnostics health covers every node, and
browsers that never read the stream do not slow the pipeline down."""

import socket
import time

import pytest

rclpy = pytest.importorskip("rclpy")
httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("chhnn_ros.sim.scene", reason="the PyBullet scene (chhnn_ros.sim) is needed")

NS = "w"
TOKEN = "t0ken"


def stuck_websocket(url: str) -> socket.socket:
    """A browser that opens the live stream and then never reads or answers."""
    host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(f"GET /ws?token={TOKEN} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    return sock


def test_web_node_in_the_graph(tmp_path):
    from chhnn_ros.graph import NODES, Graph

    params = {"camera": {"rate": 5.0}, "encoder": {"device": "cpu"},
              "classifier": {"memory_path": f"{tmp_path}/memory.pt", "teach_samples": 5, "teach_interval": 0.0},
              "web": {"web_port": 0, "web_token": TOKEN, "diagnostics_period": 0.5}}
    graph = Graph(tmp_path, params, namespace=NS, nodes=(*NODES, "web"))
    probe = graph.probe
    stuck: list[socket.socket] = []
    try:
        # web_port 0: the node takes a free port and reports its address in /diagnostics
        url = probe.wait_for(lambda: graph.diagnostics().get(f"/{NS}/web", {}).get("url"), 90.0)
        assert url and url.startswith("http://127.0.0.1:"), graph.logs()
        assert httpx.get(url + "api/status", timeout=10).status_code == 401  # the token is needed
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)

        def objects():
            r = api.get("/api/objects")
            return r.json() if r.status_code == 200 and r.json()["objects"] else None

        seen = probe.wait_for(objects, 90.0)
        assert seen, graph.logs()
        assert all(o["label"] == "unknown" for o in seen["objects"])
        classes = api.get("/api/classes").json()
        assert classes == {"classes": [], "teaches": [], "database_version": 0}

        # browsers that never read: the pipeline and the console's subscriptions keep going
        stuck = [stuck_websocket(url) for _ in range(3)]
        frames_before = api.get("/api/status").json()["web"]["frames_in"]
        t0 = time.monotonic()
        assert probe.wait_for(lambda: len(probe.messages_of("objects", t0)) >= 5, 30.0)
        assert probe.wait_for(lambda: api.get("/api/status").json()["web"]["frames_in"] >= frames_before + 5, 20.0)
        assert api.get("/api/status").json()["web"]["connected"] == 3

        # bad input: the teach parser's message, 400, nothing sent, nothing changes
        t1 = time.monotonic()
        r = api.post("/api/teach", json={"label": "thing", "box": [30, 30, 10, 10]})
        assert r.status_code == 400 and "box must be [x1, y1, x2, y2]" in r.json()["error"]
        r = api.post("/api/teach", json={"label": ""})
        assert r.status_code == 400 and r.json()["error"] == "bad teach command: label is empty"
        probe.wait_for(lambda: False, 1.0)
        assert probe.messages_of("teach_status", t1) == []  # the classifier never heard of them
        assert api.get("/api/classes").json()["database_version"] == 0

        # teach the first object by its track id: the answer is the final teach_status
        target = seen["objects"][0]
        assert target["track_id"] is not None  # the sim's ground-truth boxes carry track ids
        r = api.post("/api/teach", json={"label": "thing", "track_id": target["track_id"]})
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["status"]["state"] == "learned" and done["status"]["database_version"] == 1, done
        assert any(s["state"] == "collecting" for s in done["statuses"])
        classes = api.get("/api/classes").json()
        assert classes["classes"] == ["thing"] and classes["teaches"] == [1]
        assert graph.list_classes() == {"classes": ["thing"], "teaches": [1], "database_version": 1}

        def labelled():
            o = objects()
            return o if o and any(x["track_id"] == target["track_id"] and x["label"] == "thing"
                                  for x in o["objects"]) else None

        assert probe.wait_for(labelled, 30.0), api.get("/api/objects").json()
        assert api.get("/api/thumbnail", params={"label": "thing"}).headers["content-type"] == "image/jpeg"
        assert api.get("/api/frame.jpg").content[:2] == b"\xff\xd8"

        # node health from /diagnostics: every node of this graph, nothing else
        nodes = api.get("/api/status").json()["nodes"]
        assert set(nodes) == {f"/{NS}/{n}" for n in (*NODES, "web")}, nodes
        assert probe.wait_for(lambda: api.get("/api/status").json()["nodes"][f"/{NS}/classifier"]["values"][
            "classes"] == "1", 10.0)

        # forget through the API
        r = api.post("/api/teach", json={"forget": "thing"})
        assert r.status_code == 200 and r.json()["status"]["state"] == "forgotten", r.text
        assert probe.wait_for(lambda: api.get("/api/classes").json()["classes"] == [], 10.0)
        r = api.post("/api/teach", json={"forget": "thing"})  # no longer known: the classifier's reason, 409
        assert r.status_code == 409 and "unknown class" in r.json()["status"]["message"], r.text
    finally:
        for s in stuck:
            s.close()
        logs = graph.logs()
        codes = graph.stop()
    assert codes == dict.fromkeys((*NODES, "web"), 0), logs
    assert "without a token" not in logs["web"]  # loopback and a token: no exposure warning


def test_chhnn_perception_web_options():
    from chhnn_ros.cli.perception import parse

    args, ros_args = parse(["--web"])
    assert args.web and ros_args == []
    args, ros_args = parse(["--web-port", "9000", "--ros-args", "-p", "learner:=ncm"])
    assert args.web and ros_args == ["-p", "learner:=ncm", "-p", "web_port:=9000"]  # the explicit option last
    args, _ = parse([])
    assert not args.web


def test_chhnn_perception_with_the_web_console(tmp_path):
    """``chhnn-perception --web-port N``: every node in one process plus the console on port N; SIGTERM
    stops it all cleanly."""
    import signal
    import subprocess
    import sys

    from chhnn_ros.graph import child_env
    from chhnn_ros.ros.dds import allocate_domain, release_domain

    with socket.socket() as s:  # a free port (the console binds it with SO_REUSEADDR right after)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    domain = allocate_domain()
    log = tmp_path / "perception.log"
    proc = subprocess.Popen([sys.executable, "-m", "chhnn_ros.cli.perception", "--web-port", str(port), "--ros-args",
                             "-p", "learner:=ncm", "-p", f"memory_path:={tmp_path}/m.pt", "-p", "device:=cpu"],
                            env=child_env(domain), stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while f"web console at http://127.0.0.1:{port}/" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.5)
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + "/", timeout=10).status_code == 200
        want = {f"/chhnn/{n}" for n in ("camera", "detector", "encoder", "classifier", "web")}
        while time.monotonic() < deadline and set(httpx.get(url + "/api/status", timeout=10).json()["nodes"]) != want:
            time.sleep(0.5)
        assert set(httpx.get(url + "/api/status", timeout=10).json()["nodes"]) == want
        assert httpx.get(url + "/api/classes", timeout=10).json()["classes"] == []
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        release_domain(domain)
    text = log.read_text()
    assert code == 0 and "Traceback" not in text, text[-3000:]
