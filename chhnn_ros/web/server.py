"""Run the console app with uvicorn in a thread of the node's process.

The listening socket is bound in the constructor, so a port in use or an address this machine does
not have fails the node's start with one clear message instead of a log line from a thread.
uvicorn's own limits bound what clients can cost: concurrent connections (``limit_concurrency``,
503 beyond), the size of a WebSocket message, and keep-alive pings that close dead connections.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from chhnn_ros.web.guard import ASGIApp, is_loopback

MAX_CONNECTIONS = 64  # HTTP requests and WebSockets at once; more get 503
MAX_WS_MESSAGE = 4096  # bytes: the page only sends short "next" messages


def exposure_warning(host: str, token: str) -> str | None:
    """The warning to log when the console is reachable from the network without a token."""
    if is_loopback(host) or token:
        return None
    return (f"the web console listens on {host} without a token: anyone who can reach this machine can watch "
            "the camera and teach or forget classes; set web_token (or web_host: 127.0.0.1)")


def bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                          flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ValueError(f"web_host {host!r} is not an address of this machine: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)  # now, so a second console on the same port fails here too
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): another program (another web "
                         "console?) uses the port; set web_port (0: any free port)") from None
    return sock


class ConsoleServer:
    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.sock = bind(host, port)
        self.host, self.port = host, self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", ws="websockets-sansio",
                                ws_max_size=MAX_WS_MESSAGE, ws_ping_interval=20.0, ws_ping_timeout=20.0,
                                limit_concurrency=MAX_CONNECTIONS, timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, name="web_console",
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def wait_started(self, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < end:
            time.sleep(0.02)
        return self.server.started

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
