"""A client node that records topics and calls services: used by
``chhnn-teach``, the ``--teach-demo`` of ``chhnn-perception`` and the tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import Trigger

from chhnn_ros.nodes import messages, qos


class Probe(Node):
    def __init__(self, name: str = "chhnn_probe", namespace: str = "", spin_self: bool = True) -> None:
        super().__init__(name, namespace=namespace)
        self.spin_self = spin_self  # False when an executor already spins this node
        self.lock = threading.Lock()
        self.received: dict[str, list[tuple[float, Any]]] = {}
        self.pubs: dict[str, Any] = {}
        self._trigger_clients: dict[str, Any] = {}

    def record(self, topic: str, msg_type=String, qos_profile=None, kind: str | None = None) -> None:
        """Keep every message of ``topic`` as (receive time, msg or decoded payload)."""
        self.received.setdefault(topic, [])

        def cb(msg) -> None:
            try:
                item = messages.decode(msg.data, kind) if kind else msg
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
        import rclpy

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = predicate()
            if value:
                return value
            if self.spin_self:
                rclpy.spin_once(self, timeout_sec=0.05)
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

    def list_classes(self, service: str, timeout: float = 10.0) -> dict:
        ok, text = self.trigger(service, timeout)
        if not ok:
            raise RuntimeError(text)
        return json.loads(text)
