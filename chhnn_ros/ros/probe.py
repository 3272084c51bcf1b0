"""A client node that records topics, sends teach commands and calls services:
how ``chhnn-teach``, the graph runner (:mod:`chhnn_ros.graph`), the demos,
the system benchmarks and the tests talk to a running graph."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import Trigger

from chhnn_ros.app import payloads
from chhnn_ros.ros import qos


class Probe(Node):
    def __init__(self, name: str = "chhnn_probe", namespace: str = "", spin_self: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(name, namespace=namespace, **kwargs)
        # spin_self: waiting spins this node on an executor of its own; False when a graph's executor
        # already spins it.
        self._executor = None
        if spin_self:
            self._executor = SingleThreadedExecutor(context=self.context)
            self._executor.add_node(self)
        self.lock = threading.Lock()
        self.received: dict[str, list[tuple[float, Any]]] = {}
        self.pubs: dict[str, Any] = {}
        self._trigger_clients: dict[str, Any] = {}

    def destroy_node(self) -> None:
        if self._executor is not None:
            self._executor.remove_node(self)
            self._executor.shutdown(timeout_sec=1.0)
        super().destroy_node()

    def record(self, topic: str, msg_type=String, qos_profile=None, kind: str | None = None) -> None:
        """Keep every message of ``topic`` as (receive time, msg or decoded payload)."""
        self.received.setdefault(topic, [])

        def cb(msg) -> None:
            try:
                item = payloads.decode(msg.data, kind) if kind else msg
            except ValueError as exc:
                self.get_logger().warning(f"ignored a bad message on {topic}: {exc}")
                return
            with self.lock:
                self.received[topic].append((time.monotonic(), item))

        self.create_subscription(msg_type, topic, cb, qos_profile or qos.result_qos())

    def messages_of(self, topic: str, since: float = 0.0) -> list[Any]:
        with self.lock:
            return [m for t, m in self.received.get(topic, []) if t >= since]

    def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        """Spin (or sleep, if spun elsewhere) until ``predicate()`` is truthy; its value, or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = predicate()
            if value:
                return value
            if self._executor is not None:
                self._executor.spin_once(timeout_sec=0.05)
            else:
                time.sleep(0.05)
        return predicate() or None

    def publish(self, topic: str, text: str, wait_subscriber: float = 5.0) -> None:
        if topic not in self.pubs:
            self.pubs[topic] = self.create_publisher(String, topic, qos.result_qos())
        pub = self.pubs[topic]
        self.wait_for(lambda: pub.get_subscription_count() > 0, wait_subscriber)
        pub.publish(String(data=text))

    def trigger(self, service: str, timeout: float = 10.0) -> tuple[bool, str]:
        """Call a std_srvs/Trigger service; (success, message)."""
        # Clients are kept: destroying one while another thread's executor waits on it races.
        if service not in self._trigger_clients:
            self._trigger_clients[service] = self.create_client(Trigger, service)
        client = self._trigger_clients[service]
        if not self.wait_for(lambda: client.service_is_ready(), timeout):
            raise TimeoutError(f"service {service} is not available")
        future = client.call_async(Trigger.Request())
        if not self.wait_for(future.done, timeout):
            raise TimeoutError(f"service {service} did not answer in {timeout:g} s")
        resp = future.result()
        return resp.success, resp.message

    def command(self, teach_topic: str, status_topic: str, command: str | dict, timeout: float) -> dict | None:
        """Send a teach/forget command and wait for its final ``teach_status`` (learned, forgotten or
        error); None if none came in ``timeout`` s.  ``status_topic`` must be recorded (``record``)."""
        text = command if isinstance(command, str) else json.dumps(command)
        want = text.strip() if not text.strip().startswith("{") else None
        if want is None:
            obj = json.loads(text)
            want = obj.get("label", obj.get("forget"))
        t0 = time.monotonic()
        self.publish(teach_topic, text)

        def final() -> dict | None:
            done = [s for s in self.messages_of(status_topic, t0)
                    if s["label"] in (want, "") and s["state"] != "collecting"]
            return done[-1] if done else None

        return self.wait_for(final, timeout)

    def list_classes(self, service: str, timeout: float = 10.0) -> dict:
        ok, text = self.trigger(service, timeout)
        if not ok:
            raise RuntimeError(text)
        return json.loads(text)
