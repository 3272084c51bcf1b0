"""The console's Starlette app: the page, the HTTP API and the live WebSocket.

=====================  ===================================================================
``GET /``              the page (``?token=...`` when a token is set)
``GET /api/classes``   the latest ``classes`` payload, as on the topic
``GET /api/objects``   the latest ``objects`` payload, as on the topic
``GET /api/status``    node health from /diagnostics, and the console's own counters
``GET /api/history``   per class, ``[seconds ago, best score]`` of the last minute
``POST /api/teach``    a teach command (JSON object, as on the ``teach`` topic); waits for its final
                       ``teach_status``: 200 learned/forgotten, 409 error (with the reason), 504 none in
                       ``web_teach_wait`` s.  ``?wait=0``: 202 at once with the command's id
``GET /api/teach/N``   command N: its statuses so far and whether it is done
``GET /api/frame.jpg`` the newest displayed camera frame (JPEG, no boxes)
``GET /api/thumbnail`` ``?label=cup``: the class's thumbnail (JPEG)
``WS /ws``             live updates: one JSON text (``frame`` meta with its objects, ``state``) then,
                       with a frame, its JPEG as binary; the client answers each update with any text
                       message before it gets the next, so a slow client skips frames instead of
                       queueing them
=====================  ===================================================================

A bad teach command gets 400 with the teach parser's own message (:func:`parse_command`, the one the
classifier applies to the topic) and nothing is sent.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from chhnn_ros.app.teaching import parse_command
from chhnn_ros.params import defaults
from chhnn_ros.web.guard import Guard, is_loopback
from chhnn_ros.web.state import ConsoleState

POLL_S = 0.02  # how often a waiting handler looks for news (the node's callbacks never wait for it)
STATE_PERIOD_S = 1.0  # health and confidence history reach the page at least this often
STATIC = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
# Only for validation here: a command without "samples" goes on the topic as it came, and the classifier
# applies its own teach_samples.
_SAMPLES = defaults("classifier")["teach_samples"]
TEACH_FORMS = '{"label": "cup", "track_id": 7}, {"label": "cup", "box": [x1, y1, x2, y2]} or {"forget": "cup"}'


@dataclass
class WebSettings:
    """The web node's ``web_*`` parameters."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str = ""
    jpeg_quality: int = 80
    max_fps: float = 5.0
    max_clients: int = 8
    max_body: int = 8192
    teach_wait: float = 60.0

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> WebSettings:
        return cls(**{name: p[f"web_{name}"] for name in cls.__dataclass_fields__})


def _static(name: str) -> bytes:
    return resources.files("chhnn_ros.web").joinpath("static", name).read_bytes()


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status)


def create_app(state: ConsoleState, settings: WebSettings, publish: Callable[[str], None],
               clock: Callable[[], float] = time.monotonic) -> Guard:
    """The console as an ASGI app; ``publish(text)`` sends a teach command on the ``teach`` topic."""
    page = _static("index.html").decode()
    assets = {name: _static(name) for name in STATIC}
    clients = {"connected": 0, "refused": 0, "updates": 0}

    async def index(request: Request) -> Response:
        token = request.query_params.get("token", "")
        query = f"?token={quote(token, safe='')}" if settings.token and token else ""
        return HTMLResponse(page.replace("{{query}}", html.escape(query)))

    async def asset(request: Request) -> Response:
        name = request.url.path.lstrip("/")
        return Response(assets[name], media_type=STATIC[name])

    async def classes(_request: Request) -> Response:
        payload = state.classes()
        if payload is None:
            return _error(503, "no classes message received yet: is the classifier running in this namespace?")
        return JSONResponse(payload)

    async def objects(_request: Request) -> Response:
        payload = state.objects()
        if payload is None:
            return _error(503, "no objects message received yet: is the pipeline running in this namespace?")
        return JSONResponse(payload)

    async def status(_request: Request) -> Response:
        return JSONResponse({"nodes": state.health(), "web": {**state.counters(), **clients}})

    async def history(_request: Request) -> Response:
        return JSONResponse(state.history())

    async def teach(request: Request) -> Response:
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "bad teach command: the body is not UTF-8 text")
        if not text.strip().startswith("{"):
            return _error(400, f"bad teach command: the body must be a JSON object: {TEACH_FORMS}")
        try:
            cmd = parse_command(text, _SAMPLES)
        except ValueError as exc:
            return _error(400, f"bad teach command: {exc}")
        obj = json.loads(text)  # valid: parse_command read the same text
        now = clock()
        if running := state.commands.running(cmd.label, now, settings.teach_wait):
            return _error(409, f"this console's command {running.id} for {cmd.label!r} is still running; wait for "
                          f"it (GET /api/teach/{running.id})", id=running.id)
        record = state.commands.add(cmd.kind, cmd.label, obj, now)
        publish(json.dumps(obj))
        state.command_sent()
        if request.query_params.get("wait", "1").lower() in ("0", "false", "no"):
            return JSONResponse(state.commands.get(record.id, clock()), 202,
                                headers={"location": f"/api/teach/{record.id}"})
        deadline = now + settings.teach_wait
        while clock() < deadline:
            done = state.commands.get(record.id, clock())
            if done is None:  # pushed out by newer commands (more than KEEP during one wait)
                break
            if done["done"]:
                return JSONResponse(done, 409 if done["status"]["state"] == "error" else 200)
            await asyncio.sleep(POLL_S * 5)
        return JSONResponse({**(state.commands.get(record.id, clock()) or {"id": record.id}),
                             "error": f"no final teach_status within web_teach_wait = {settings.teach_wait:g} s: "
                                      f"is the classifier running? (poll GET /api/teach/{record.id})"}, 504)

    async def teach_get(request: Request) -> Response:
        record = state.commands.get(request.path_params["command_id"], clock())
        if record is None:
            return _error(404, "no such command (this console keeps its last 50)")
        return JSONResponse(record)

    async def frame(_request: Request) -> Response:
        got = await run_in_threadpool(state.view_jpeg)
        if got is None:
            return _error(503, "no camera frame received yet")
        return Response(got[1], media_type="image/jpeg")

    async def thumbnail(request: Request) -> Response:
        jpeg = await run_in_threadpool(state.thumbnail, request.query_params.get("label", ""))
        if jpeg is None:
            return _error(404, "no thumbnail for this class (yet)")
        return Response(jpeg, media_type="image/jpeg")

    async def stream(ws: WebSocket) -> None:
        if clients["connected"] >= settings.max_clients:
            clients["refused"] += 1
            await ws.close(code=1013, reason=f"too many clients (web_max_clients = {settings.max_clients})")
            return
        clients["connected"] += 1
        try:
            await ws.accept()
            sent_seq, sent_info, state_t, frame_t = 0, -1, -math.inf, -math.inf
            while True:
                while True:  # wait for news: a new view (at most web_max_fps), a state change, the period
                    now = clock()
                    new_frame = state.view_seq() != sent_seq and now - frame_t >= 1.0 / settings.max_fps
                    info = state.info_version
                    if new_frame or info != sent_info or now - state_t >= STATE_PERIOD_S:
                        break
                    await asyncio.sleep(POLL_S)
                update: dict[str, Any] = {"type": "update"}
                jpeg = None
                if new_frame and (got := await run_in_threadpool(state.view_jpeg)) is not None:
                    view, jpeg = got
                    update["frame"], sent_seq, frame_t = view.meta(), view.seq, now
                if info != sent_info or now - state_t >= STATE_PERIOD_S:
                    update["state"] = state.snapshot()
                    sent_info, state_t = info, now
                await ws.send_text(json.dumps(update, separators=(",", ":")))
                if jpeg is not None:
                    await ws.send_bytes(jpeg)
                clients["updates"] += 1
                # The client's "next" (any message): one update in flight per client, never a queue.
                if (await ws.receive())["type"] == "websocket.disconnect":
                    break
        except WebSocketDisconnect:
            pass
        finally:
            clients["connected"] -= 1

    routes = [
        Route("/", index),
        *(Route(f"/{name}", asset) for name in STATIC),
        Route("/api/classes", classes),
        Route("/api/objects", objects),
        Route("/api/status", status),
        Route("/api/history", history),
        Route("/api/teach", teach, methods=["POST"]),
        Route("/api/teach/{command_id:int}", teach_get),
        Route("/api/frame.jpg", frame),
        Route("/api/thumbnail", thumbnail),
        WebSocketRoute("/ws", stream),
    ]
    return Guard(Starlette(routes=routes), settings.token, settings.max_body, is_loopback(settings.host))
