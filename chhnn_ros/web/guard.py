"""The console's security middleware (pure ASGI, so it covers the page, the API and the WebSocket).

* **Token**: with a token set, every request must carry it, as ``Authorization: Bearer <token>``
  or ``?token=<token>`` (what a browser can put in the page's address, its images and its WebSocket);
  otherwise 401.
* **Cross-origin**: a request whose ``Origin`` is another site is refused (403) on the WebSocket and on
  every request that changes something: browsers send a "simple" cross-origin POST without asking,
  and let any page open a WebSocket, so without this any web page the operator visits could teach or
  watch the robot's camera through the operator's browser.
* **Host**: while bound to the loopback interface only ``localhost``/loopback host names are
  answered (a DNS-rebinding page reaches 127.0.0.1 under its own name).
* **Body size**: a request body larger than ``max_body`` bytes is refused with 413 before the app
  sees it.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
HOST_CHARS = re.compile(r"[A-Za-z0-9.\-:\[\]]+")
# The page's own resources only: no inline script, no third-party anything, no framing (clickjacking
# of a teach button).  Its WebSocket is named by host as well: older Safari (tablets) does not count
# ws:// to the same host as 'self'.
CSP = ("default-src 'self'; img-src 'self' blob: data:; connect-src 'self'{ws}; style-src 'self'; "
       "script-src 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


def csp(host: str) -> tuple[bytes, bytes]:
    ws = f" ws://{host} wss://{host}" if HOST_CHARS.fullmatch(host) else ""
    return b"content-security-policy", CSP.format(ws=ws).encode()


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.startswith("127.")


def _host_name(host_header: str) -> str:
    """The name of a ``Host`` header without its port (``[::1]:8080`` → ``[::1]``)."""
    if host_header.startswith("["):
        return host_header.split("]")[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class Guard:
    def __init__(self, app: ASGIApp, token: str, max_body: int, loopback_only: bool) -> None:
        self.app, self.token, self.max_body, self.loopback_only = app, token, max_body, loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await self._refuse(scope, receive, send, *refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        body = await self._read_body(receive, headers)
        if body is None:
            why = f"request body larger than {self.max_body} bytes (web_max_body)"
            await self._refuse(scope, receive, send, 413, why)
            return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the app expects

        extra = [*SECURITY_HEADERS, csp(headers.get("host", ""))]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, replay, with_headers)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        host = headers.get("host", "")
        if self.loopback_only and host and not is_loopback(_host_name(host)):
            return 403, f"host {host!r} refused: the console is bound to the loopback interface (web_host)"
        origin = headers.get("origin")
        changes = scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS
        if changes and origin is not None and urlsplit(origin).netloc != host:
            return 403, f"cross-origin request from {origin!r} refused"
        if self.token and not self._authorised(scope, headers):
            return 401, "a token is needed: 'Authorization: Bearer <token>' header or ?token=<token> (web_token)"
        return None

    def _authorised(self, scope: Scope, headers: dict[str, str]) -> bool:
        expected = self.token.encode()
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and hmac.compare_digest(auth[7:].strip().encode(), expected):
            return True
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return any(hmac.compare_digest(t.encode(), expected) for t in query.get("token", []))

    async def _read_body(self, receive: Receive, headers: dict[str, str]) -> bytes | None:
        """The whole body, or None as soon as it exceeds ``max_body`` (declared or streamed)."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, reason: str) -> None:
        body = json.dumps({"error": reason}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   *SECURITY_HEADERS, csp("")]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="chhnn_ros web console"'))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await receive()  # websocket.connect: the handshake comes before any answer
        if "websocket.http.response" in (scope.get("extensions") or {}):  # a real HTTP answer to the upgrade
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # servers without the extension answer a close before accept with 403
            await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
