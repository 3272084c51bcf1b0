"""The teach console's web app without ROS: the HTTP API, the WebSocket protocol, the security
guard (token, origin, host, body size, no file paths), the console state, and a browser that never
reads cannot hold up the callbacks that feed it."""

import json
import socket
import threading
import time

import cv2
import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.routing import Route, WebSocketRoute  # noqa: E402
from starlette.testclient import TestClient, WebSocketDenialResponse  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

from chhnn_ros.app.teaching import parse_command  # noqa: E402
from chhnn_ros.web import state as state_mod  # noqa: E402
from chhnn_ros.web.app import WebSettings, create_app  # noqa: E402
from chhnn_ros.web.server import ConsoleServer, bind, exposure_warning  # noqa: E402
from chhnn_ros.web.state import ConsoleState  # noqa: E402

BASE = "http://localhost"
WS = "ws://localhost/ws"


def status(state, label, db=1, collected=5, needed=5, message="ok"):
    return {"state": state, "label": label, "message": message,
            "collected": collected, "needed": needed, "views": 2, "database_version": db}


def objects_payload(stamp, objects):
    return {"stamp": {"sec": stamp[0], "nanosec": stamp[1]},
            "frame_id": "camera", "objects": objects, "database_version": 1}


def obj(box, label="unknown", known=False, score=0.3, nearest="", track_id=None):
    return {"box": box, "label": label, "score": score, "known": known, "known_score": score, "nearest": nearest,
            "track_id": track_id, "detector_class": "thing"}


class Console:
    """The app with a recording publisher; ``reply`` makes a fake classifier answer each command."""

    def __init__(self, **settings):
        self.state = ConsoleState()
        self.sent: list[str] = []
        self.reply = None
        self.settings = WebSettings(**settings)
        self.app = create_app(self.state, self.settings, self.publish)
        self.client = TestClient(self.app, base_url=BASE)

    def publish(self, text):
        self.sent.append(text)
        if self.reply is not None:
            threading.Thread(target=self.reply, args=(json.loads(text),), daemon=True).start()


@pytest.fixture()
def console():
    return Console(teach_wait=5.0)


# ------------------------------------------------------------------------------------------ HTTP API
def test_classes_objects_status_as_received(console):
    c, st = console.client, console.state
    assert c.get("/api/classes").status_code == 503 and "classifier" in c.get("/api/classes").json()["error"]
    assert c.get("/api/objects").status_code == 503
    classes = {"classes": ["cup", "key"], "teaches": [2, 1], "database_version": 3}
    st.put_classes(classes)
    assert c.get("/api/classes").json() == classes  # the topic's JSON, unchanged
    payload = objects_payload((5, 0), [obj([1, 2, 30, 40], "cup", True, 0.9, "cup", 7)])
    st.put_objects((5, 0), payload)
    assert c.get("/api/objects").json() == payload
    st.put_health([{"name": "/chhnn/classifier", "level": "OK", "message": "running", "values": {"input_hz": "9.9"}}])
    nodes = c.get("/api/status").json()["nodes"]
    assert nodes["/chhnn/classifier"]["level"] == "OK" and nodes["/chhnn/classifier"]["values"]["input_hz"] == "9.9"
    page = c.get("/")
    assert page.status_code == 200 and "teach console" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert c.get("/console.js").headers["content-type"].startswith("text/javascript")


def test_teach_waits_for_the_final_status(console):
    c, st = console, console.state

    def classifier(command):
        label = command.get("label", command.get("forget"))
        time.sleep(0.2)
        st.put_teach_status(status("collecting", label, 0, 0, 5, f"teaching {label!r}"))
        time.sleep(0.2)
        if label == "unknown":
            st.put_teach_status(status("error", label, 0, 0, 0, "bad teach command: 'unknown' is reserved"))
        else:
            st.put_teach_status(status("forgotten" if "forget" in command else "learned", label))

    c.reply = classifier
    r = c.client.post("/api/teach", json={"label": "cup", "track_id": 7})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["done"] and body["status"]["state"] == "learned" and [s["state"] for s in body["statuses"]] == [
        "collecting", "learned"]
    assert json.loads(c.sent[-1]) == {"label": "cup", "track_id": 7}  # the command as given: samples stay the
    # classifier's own default
    r = c.client.post("/api/teach", json={"forget": "cup"})
    assert r.status_code == 200 and r.json()["status"]["state"] == "forgotten"
    r = c.client.post("/api/teach", json={"label": "unknown"})  # the classifier refuses: 409 with its reason
    assert r.status_code == 409 and "reserved" in r.json()["status"]["message"]


def test_teach_without_waiting_and_polling(console):
    c, st = console.client, console.state
    r = c.post("/api/teach?wait=0", json={"label": "mug", "box": [10, 10, 50, 60]})
    assert r.status_code == 202 and r.headers["location"] == f"/api/teach/{r.json()['id']}"
    cid = r.json()["id"]
    assert c.get(f"/api/teach/{cid}").json()["done"] is False
    # a second command for the same label while the first runs: its replies could not be told apart
    again = c.post("/api/teach?wait=0", json={"label": "mug"})
    assert again.status_code == 409 and again.json()["id"] == cid
    st.put_teach_status(status("collecting", "mug", 0, 2, 5))
    assert c.get(f"/api/teach/{cid}").json()["status"]["collected"] == 2
    st.put_teach_status(status("learned", "mug"))
    assert c.get(f"/api/teach/{cid}").json()["done"] is True
    assert c.get("/api/teach/999").status_code == 404
    assert len(console.sent) == 1


def test_teach_without_a_classifier_times_out():
    console = Console(teach_wait=1.0)
    t0 = time.monotonic()
    r = console.client.post("/api/teach", json={"label": "cup"})
    assert r.status_code == 504 and "classifier" in r.json()["error"] and time.monotonic() - t0 >= 1.0


BAD_COMMANDS = [
    '{"label": ""}',
    '{"label": "' + "x" * 65 + '"}',
    '{"label": "cup", "box": [1, 2, 3]}',
    '{"label": "cup", "box": [5, 5, 1, 1]}',
    '{"label": "cup", "track_id": "seven"}',
    '{"label": "cup", "track_id": 1, "box": [0, 0, 5, 5]}',
    '{"label": "cup", "samples": 0}',
    '{"label": "cup", "colour": "red"}',
    '{"forget": "cup", "label": "mug"}',
    '{"label": "a\\nb"}',
    '{"label": ',
]


@pytest.mark.parametrize("body", BAD_COMMANDS)
def test_bad_teach_input_gets_the_parsers_message_and_changes_nothing(console, body):
    with pytest.raises(ValueError) as parsed:
        parse_command(body, 20)  # what the classifier says of the same text on the teach topic
    r = console.client.post("/api/teach", content=body.encode())
    assert r.status_code == 400
    assert r.json()["error"] == f"bad teach command: {parsed.value}"
    assert console.sent == [] and console.state.commands.recent(0.0) == []


@pytest.mark.parametrize("body", [b'"cup"', b"cup", b"[1, 2]", b"", b"\xff\xfe{}"])
def test_a_teach_body_must_be_a_json_object(console, body):
    r = console.client.post("/api/teach", content=body)
    assert r.status_code == 400 and r.json()["error"].startswith("bad teach command:")
    assert console.sent == []


def test_body_size_limit(console):
    limit = console.settings.max_body
    big = json.dumps({"label": "cup", "pad": "x" * limit})
    r = console.client.post("/api/teach", content=big)
    assert r.status_code == 413 and "web_max_body" in r.json()["error"]

    def chunks():  # no Content-Length: the limit holds for a streamed body too
        for _ in range(4):
            yield b"x" * (limit // 2)

    r = console.client.post("/api/teach", content=chunks())
    assert r.status_code == 413
    assert console.sent == []


# ------------------------------------------------------------------------------------------ security
def test_token_needed_everywhere():
    console = Console(token="s3cret")
    c = console.client
    for path in ("/", "/console.js", "/api/classes", "/api/status", "/api/objects", "/api/frame.jpg"):
        r = c.get(path)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer"), path
        assert c.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = c.post("/api/teach", json={"label": "cup"})
    assert r.status_code == 401 and console.sent == []
    with pytest.raises(WebSocketDenialResponse) as denied, c.websocket_connect(WS):
        pass
    assert denied.value.status_code == 401
    # with the token: header or query
    assert c.get("/api/status", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    page = c.get("/?token=s3cret")
    assert page.status_code == 200 and 'src="console.js?token=s3cret"' in page.text  # its assets carry it too
    assert c.get("/console.js?token=s3cret").status_code == 200
    with c.websocket_connect(WS + "?token=s3cret"):
        pass


def test_cross_origin_and_foreign_host_refused(console):
    c = console.client
    r = c.post("/api/teach", json={"label": "cup"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and console.sent == []
    with pytest.raises(WebSocketDenialResponse) as denied, c.websocket_connect(
            WS, headers={"Origin": "http://evil.example"}):
        pass
    assert denied.value.status_code == 403
    with c.websocket_connect(WS, headers={"Origin": "http://localhost"}):  # the page's own origin
        pass
    # bound to loopback: a DNS-rebinding name is refused; bound to every interface, any name is answered
    assert c.get("/api/status", headers={"Host": "evil.example"}).status_code == 403
    wide = Console(host="0.0.0.0", token="t")
    assert wide.client.get("/api/status?token=t", headers={"Host": "robot.lan:8080"}).status_code == 200


def test_no_endpoint_reads_files_by_a_client_given_path(console):
    c = console.client
    for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/static/../../setup.py", "/console.js/../setup.py",
                 "/api/thumbnail?label=../../../../etc/passwd", "/api/frame.jpg/../../etc/passwd", "/setup.py",
                 "/chhnn_ros/params.py", "/index.html"):
        r = c.get(path)
        assert r.status_code in (404, 503), (path, r.status_code)
        assert b"root:" not in r.content and b"setuptools" not in r.content
    # and structurally: fixed routes only, no path-valued parameter, no static-files mount
    inner = console.app.app
    for route in inner.routes:
        assert isinstance(route, Route | WebSocketRoute), route
        assert ":path}" not in route.path, route.path


def test_exposure_warning_and_port_in_use():
    assert exposure_warning("127.0.0.1", "") is None and exposure_warning("0.0.0.0", "t") is None
    assert "web_token" in exposure_warning("0.0.0.0", "")
    sock = bind("127.0.0.1", 0)
    try:
        with pytest.raises(ValueError, match="web_port"):
            bind("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()


# ------------------------------------------------------------------------------------------ state
def test_view_pairs_objects_with_their_frame_and_falls_back_to_raw_frames():
    now = [100.0]
    st = ConsoleState(clock=lambda: now[0])
    frames = {k: np.full((48, 64, 3), k, np.uint8) for k in range(1, 5)}
    for k in (1, 2, 3):
        st.put_frame((k, 0), frames[k])
    assert st.view().paired is False  # no objects yet: the raw frame
    assert st.put_objects((2, 0), objects_payload((2, 0), [obj([1, 1, 20, 20])]))
    view = st.view()
    assert view.paired and view.image is frames[2] and view.objects[0]["box"] == [1, 1, 20, 20]
    st.put_frame((4, 0), frames[4])
    assert st.view().image is frames[2]  # boxes stay with their image while objects keep coming
    assert not st.put_objects((9, 0), objects_payload((9, 0), []))  # its frame never came
    assert st.counters()["unpaired_objects"] == 1
    now[0] += state_mod.OBJECTS_TIMEOUT_S + 0.1  # the classifier went quiet: raw frames again
    st.put_frame((10, 0), frames[1])
    assert st.view().paired is False and st.view().image is frames[1]
    for k in range(100):  # the ring of frames to pair with is bounded
        st.put_frame((1000 + k, 0), frames[1])
    assert len(st._frames) == state_mod.FRAME_RING


def test_history_thumbnails_and_forget():
    now = [0.0]
    st = ConsoleState(clock=lambda: now[0])
    image = np.zeros((100, 200, 3), np.uint8)
    image[10:50, 20:80] = (255, 0, 0)
    for k in range(400):
        now[0] = k * 0.25
        st.put_frame((k, 0), image)
        st.put_objects((k, 0), objects_payload((k, 0), [
            obj([20, 10, 80, 50], "cup", True, 0.5 + (k % 2) * 0.4, "cup"),
            obj([100, 10, 120, 30], "unknown", False, 0.2, "cup")]))
    points = st.history()["cup"]
    assert len(points) <= state_mod.HISTORY_S / state_mod.HISTORY_BIN_S + 1  # bounded, binned
    assert all(p[1] == pytest.approx(0.9) for p in points)  # the best score per bin
    assert max(p[0] for p in points) <= state_mod.HISTORY_S
    jpeg = st.thumbnail("cup")
    thumb = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert thumb.shape == (state_mod.THUMB_SIZE, state_mod.THUMB_SIZE, 3)
    assert thumb[64, 64, 2] > 200 and thumb[64, 64, 0] < 60  # the red object (BGR)
    assert st.thumbnail("unknown") is None  # unknown objects make no class thumbnail
    assert st.class_list() == []
    st.put_classes({"classes": ["cup"], "teaches": [1], "database_version": 1})
    assert st.class_list()[0]["label"] == "cup" and st.class_list()[0]["thumbnail"] is not None
    st.put_classes({"classes": [], "teaches": [], "database_version": 2})  # forgotten
    assert st.history() == {} and st.thumbnail("cup") is None


# ------------------------------------------------------------------------------------------ WebSocket
def test_websocket_sends_one_update_per_ack(console):
    st = console.state
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    st.put_frame((1, 0), image)
    st.put_objects((1, 0), objects_payload((1, 0), [obj([1, 1, 20, 20], track_id=3)]))
    with console.client.websocket_connect(WS) as ws:
        update = ws.receive_json()
        assert update["frame"]["objects"][0]["track_id"] == 3 and update["frame"]["paired"]
        assert (update["frame"]["width"], update["frame"]["height"]) == (64, 48)
        assert "classes" in update["state"] and "health" in update["state"]
        jpeg = ws.receive_bytes()
        assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (48, 64, 3)
        sent = console.client.get("/api/status").json()["web"]["updates"]
        st.put_frame((2, 0), image)
        st.put_objects((2, 0), objects_payload((2, 0), []))
        time.sleep(0.5)
        assert console.client.get("/api/status").json()["web"]["updates"] == sent  # nothing until "next"
        ws.send_text("next")
        assert ws.receive_json()["frame"]["seq"] == st.view_seq()


def test_too_many_websocket_clients_refused():
    console = Console(max_clients=1)
    with console.client.websocket_connect(WS) as first:
        first.receive_json()
        with pytest.raises(WebSocketDisconnect) as refused, console.client.websocket_connect(WS):
            pass
        assert refused.value.code == 1013  # "try again later"
    assert console.client.get("/api/status").json()["web"]["refused"] == 1


def _stuck_websocket(port: int) -> socket.socket:
    """A client that completes the WebSocket handshake and then never reads or answers."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    return sock


def test_a_client_that_never_reads_cannot_hold_up_the_feeding_callbacks():
    """A real server; one browser never reads its socket, another reads normally.  The callbacks that
    feed the console (the web node's subscriptions) keep their pace, the reading client keeps getting the
    newest frames, and the stuck one is sent one update and then nothing (nothing queues for it)."""
    from websockets.sync.client import connect

    st = ConsoleState(jpeg_quality=95)
    server = ConsoleServer(create_app(st, WebSettings(max_fps=30.0), lambda _t: None), "127.0.0.1", 0)
    assert server.wait_started()
    rng = np.random.default_rng(1)
    noise = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(4)]  # ~250 KB JPEGs
    stuck = [_stuck_websocket(server.port) for _ in range(3)]
    seen: list[int] = []
    done = threading.Event()

    def reader() -> None:
        with connect(f"ws://127.0.0.1:{server.port}/ws", max_size=2**24) as ws:
            while not done.is_set():
                update = json.loads(ws.recv(timeout=5))
                if "frame" in update:
                    ws.recv(timeout=5)  # the JPEG
                    seen.append(update["frame"]["seq"])
                ws.send("next")

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        period, n = 1 / 30, 90
        took = []
        t0 = time.monotonic()
        for k in range(n):  # a 30 Hz camera and its objects, as the node's callbacks deliver them
            t = time.monotonic()
            st.put_frame((k, 0), noise[k % 4])
            st.put_objects((k, 0), objects_payload((k, 0), [obj([10, 10, 100, 100], "cup", True, 0.9, "cup", 1)]))
            took.append(time.monotonic() - t)
            time.sleep(max(0.0, t0 + (k + 1) * period - time.monotonic()))
        elapsed = time.monotonic() - t0
        done.set()
        thread.join(10)
    finally:
        for s in stuck:
            s.close()
        server.stop()
    # Feeding never waited for a browser: each call is a dict update under one lock.  The bound is loose on
    # purpose (a loaded CI machine); a callback that waited for the stuck sockets would never return.
    assert max(took) < 0.5 and elapsed < n * period + 3.0, (max(took), elapsed)
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] >= n // 2, seen  # the reader kept up, newest first


def test_stuck_clients_get_one_update_each():
    """With clients that never answer, the server sends each one update and then waits (counted)."""
    st = ConsoleState()
    server = ConsoleServer(create_app(st, WebSettings(max_fps=30.0), lambda _t: None), "127.0.0.1", 0)
    assert server.wait_started()
    stuck = [_stuck_websocket(server.port) for _ in range(3)]
    try:
        import httpx

        image = np.zeros((48, 64, 3), np.uint8)
        for k in range(60):
            st.put_frame((k, 0), image)
            st.put_objects((k, 0), objects_payload((k, 0), []))
            time.sleep(0.02)
        time.sleep(0.5)
        web = httpx.get(f"http://127.0.0.1:{server.port}/api/status").json()["web"]
    finally:
        for s in stuck:
            s.close()
        server.stop()
    assert web["connected"] == 3 and web["updates"] == 3, web
