"""The one way to start the perception graph and talk to it.

``Graph`` starts the nodes (camera → detector → encoder → classifier, or a
subset; ``nodes=(*NODES, "web")`` adds the teach console) with the package's
DDS settings on a domain id of its own and gives the verbs everyone needs:
teach and wait for the result, the latest objects, the class list, the
nodes' /diagnostics.  Modes:

* ``inprocess``: the nodes run in this process on one executor thread
  (``chhnn-perception``, the demos: they reach into the camera's sim scene);
* ``processes``: one process per node, ``python -m chhnn_ros.nodes.<node>``,
  as ``ros2 launch`` starts them (reliability runs kill and restart them);
* ``oneprocess``: one child process running ``chhnn-perception``.

Child processes import the same ``chhnn_ros`` as this process (source tree or
installed), and get the installed share/ directory's Fast DDS profile.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

import chhnn_ros
from chhnn_ros.params import NODE_PARAMS, check_params_file
from chhnn_ros.ros import qos
from chhnn_ros.ros.dds import allocate_domain, configure_process, dds_env, release_domain
from chhnn_ros.ros.messages import KINDS
from chhnn_ros.ros.parent import STOP_WITH_PARENT_ENV

NODES = ("camera", "detector", "encoder", "classifier")
MODES = ("inprocess", "processes", "oneprocess")
# rclpy log lines at ERROR/FATAL level, and tracebacks of anything that escaped a handler
ERROR_RE = re.compile(r"^\[(ERROR|FATAL)\]|^Traceback \(most recent call last\)", re.M)


def child_env(domain: int | None) -> dict[str, str]:
    """Environment of a node process: this one's, the DDS settings, offline hubs, PYTHONPATH reaching the
    ``chhnn_ros`` this process imported (so a checkout's tests run the checkout's nodes), and the request
    to stop when this process dies (:mod:`chhnn_ros.ros.parent`)."""
    root = str(Path(chhnn_ros.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, **dds_env(domain), "YOLO_OFFLINE": os.environ.get("YOLO_OFFLINE", "1"),
           "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "PYTHONUNBUFFERED": "1",
           STOP_WITH_PARENT_ENV: "1"}
    if root not in path.split(os.pathsep):
        env["PYTHONPATH"] = root + (os.pathsep + path if path else "")
    return env


def write_params(path: Path, params: dict[str, dict[str, Any]]) -> Path:
    """A params file from ``{node or "**": {name: value}}``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({f"/**/{n}" if n != "**" else "/**": {"ros__parameters": v}
                                    for n, v in params.items()}))
    return path


class NodeProcess:
    """One node (or ``chhnn-perception``) in its own process, with its log file."""

    def __init__(self, module: str, log: Path, args: list[str], domain: int | None,
                 cwd: Path | None = None) -> None:
        self.module, self.log_path = module, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log_offset = log.stat().st_size if log.exists() else 0  # restarts append: this run's text starts here
        # -P: the working directory is not put first on sys.path (child_env's PYTHONPATH decides)
        self.proc = subprocess.Popen([sys.executable, "-P", "-m", module, *args], env=child_env(domain),
                                     stdout=log.open("a"), stderr=subprocess.STDOUT, cwd=cwd or log.parent)

    @classmethod
    def node(cls, name: str, log: Path, ros_args: list[str], domain: int | None) -> NodeProcess:
        return cls(f"chhnn_ros.nodes.{name}_node", log, ["--ros-args", *ros_args], domain)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        """What this process has logged (its log file from where this run started)."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def errors(self) -> list[str]:
        """Log lines at ERROR/FATAL level and tracebacks."""
        return [ln for ln in self.text().splitlines() if ERROR_RE.match(ln)]

    def wait_log(self, needle: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.text():
                return True
            if not self.alive():
                return needle in self.text()
            time.sleep(0.1)
        return False

    def rss_mb(self) -> float:
        """Resident memory (VmRSS) in MB; NaN once the process is gone."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return float("nan")

    def kill9(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the node saves and exits 0); SIGKILL if it hangs (returns -9)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return -9


class Graph:
    """The perception graph plus a probe node in this process.

    ``params``: ``{node or "**": {parameter: value}}`` on top of the defaults (or ``params_file``, a user's
    file); ``ros_args``: more ROS arguments for the nodes (``-p name:=value``); ``domain``: ``"isolated"``
    takes a free domain id (:func:`~chhnn_ros.ros.dds.allocate_domain`), None uses the environment's
    ``ROS_DOMAIN_ID``; ``record``: topics (relative to the namespace) the probe keeps from the start, besides
    objects, teach_status and /diagnostics: a name of :data:`~chhnn_ros.ros.messages.KINDS` (the messages as
    they came, e.g. to check them later) or (name, kind) (as plain dicts)."""

    def __init__(self, workdir: Path, params: dict[str, dict[str, Any]] | None = None, mode: str = "processes",
                 namespace: str = "chhnn", nodes: Iterable[str] = NODES, domain: int | str | None = "isolated",
                 record: Iterable[str | tuple[str, str]] = (), params_file: Path | None = None,
                 ros_args: Iterable[str] = ()) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        unknown = set(nodes) - set(NODE_PARAMS)
        if unknown:
            raise ValueError(f"unknown nodes {sorted(unknown)}; nodes: {', '.join(NODE_PARAMS)}")
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray

        from chhnn_ros.ros.probe import Probe
        from chhnn_ros.ros.runtime import Spinner, start_nodes

        configure_process()  # the probe's (and in-process nodes') participant: profile, localhost
        self.workdir, self.mode, self.ns = Path(workdir), mode, namespace.strip("/")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._own_domain = domain == "isolated"
        self.domain = allocate_domain() if domain == "isolated" else domain
        if params_file is not None:
            check_params_file(params_file)
        self.params_file = params_file or write_params(self.workdir / f"{self.ns}_params.yaml", params or {})
        self.ros_args = list(ros_args)
        self.node_names = tuple(nodes)
        self.procs: dict[str, NodeProcess] = {}
        self.nodes: list[Any] = []
        ros_args = ["--ros-args", "-r", f"__ns:=/{self.ns}", "--params-file", str(self.params_file), *self.ros_args]
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=self.domain,
                   args=["chhnn_graph", *ros_args] if mode == "inprocess" else None)
        try:
            if mode == "inprocess":
                from chhnn_ros.nodes.camera_node import CameraNode
                from chhnn_ros.nodes.classifier_node import ClassifierNode
                from chhnn_ros.nodes.detector_node import DetectorNode
                from chhnn_ros.nodes.encoder_node import EncoderNode

                classes = {"camera": CameraNode, "detector": DetectorNode, "encoder": EncoderNode,
                           "classifier": ClassifierNode}
                if "web" in self.node_names:  # imported only when asked for: the web server's packages
                    from chhnn_ros.nodes.web_node import WebNode

                    classes["web"] = WebNode
                self.nodes = start_nodes([lambda c=classes[n]: c(context=self.context) for n in self.node_names])
            self.probe = Probe(f"probe_{self.ns}", namespace=self.ns, spin_self=False, context=self.context)
        except BaseException:
            rclpy.try_shutdown(context=self.context)
            raise
        self.probe.record("objects", kind="objects")
        self.probe.record("teach_status", kind="teach_status", qos_profile=qos.command_qos())
        self.probe.record("/diagnostics", DiagnosticArray)
        for item in record:  # "name": the messages as they came; ("name", kind): as plain dicts
            if isinstance(item, str):
                self.probe.record(item, KINDS[item.rsplit("/", 1)[-1]][0])
            else:
                self.probe.record(item[0], kind=item[1])
        self._spinner = Spinner([*self.nodes, self.probe], self.context)
        if mode == "processes":
            for n in self.node_names:
                self.start_node(n)
        elif mode == "oneprocess":
            self.procs["perception"] = NodeProcess(
                "chhnn_ros.cli.perception", self.workdir / f"{self.ns}_perception.log",
                ["--namespace", self.ns, "--params-file", str(self.params_file), "--ros-args", *self.ros_args],
                self.domain)

    # ------------------------------------------------------------------ processes
    def start_node(self, name: str, extra: list[str] = ()) -> NodeProcess:
        """(Re)start node ``name`` in its own process (mode ``processes``)."""
        args = ["-r", f"__ns:=/{self.ns}", "--params-file", str(self.params_file), *self.ros_args, *extra]
        proc = NodeProcess.node(name, self.workdir / f"{self.ns}_{name}.log", args, self.domain)
        self.procs[name] = proc
        return proc

    def alive(self) -> dict[str, bool]:
        return {n: p.alive() for n, p in self.procs.items()} if self.procs else {n: True for n in self.node_names}

    def logs(self, tail: int = 1500) -> dict[str, str]:
        return {n: p.text()[-tail:] for n, p in self.procs.items()}

    def rss_mb(self) -> dict[str, float]:
        return {n: round(p.rss_mb(), 1) for n, p in self.procs.items()}

    # ---------------------------------------------------------------------- verbs
    def topic(self, name: str) -> str:
        return name if name.startswith("/") else f"/{self.ns}/{name}"

    def wait_objects(self, timeout: float, since: float | None = None) -> list[dict]:
        """``objects`` messages received after ``since`` (default: now), waiting up to ``timeout`` s."""
        t0 = time.monotonic() if since is None else since
        return self.probe.wait_for(lambda: self.probe.messages_of("objects", t0), timeout) or []

    def teach(self, command: str | dict, timeout: float = 90.0) -> dict | None:
        """Send a teach/forget command on ``teach``; its final teach_status, or None."""
        return self.probe.command(self.topic("teach"), "teach_status", command, timeout)

    def list_classes(self, timeout: float = 10.0) -> dict:
        return self.probe.list_classes(self.topic("classifier/list_classes"), timeout)

    def trigger(self, service: str, timeout: float = 10.0) -> tuple[bool, str]:
        return self.probe.trigger(self.topic(service), timeout)

    def labels_seen(self, label: str, timeout: float = 30.0) -> bool:
        t0 = time.monotonic()
        return bool(self.probe.wait_for(lambda: [m for m in self.probe.messages_of("objects", t0)
                                                 if any(o["label"] == label for o in m["objects"])], timeout))

    def diagnostics(self, since: float = 0.0) -> dict[str, dict[str, str]]:
        """The latest /diagnostics values of each of this graph's nodes (by full name)."""
        latest: dict[str, dict[str, str]] = {}
        for arr in self.probe.messages_of("/diagnostics", since):
            for st in arr.status:
                if st.name.startswith(f"/{self.ns}/"):
                    latest[st.name] = {kv.key: kv.value for kv in st.values}
        return latest

    def fresh_diagnostics(self, timeout: float = 5.0) -> dict[str, dict[str, str]]:
        """Diagnostics every node of the graph published after now (waits up to ``timeout`` s)."""
        t0 = time.monotonic()
        self.probe.wait_for(lambda: len(self.diagnostics(t0)) >= len(self.node_names), timeout)
        return self.diagnostics(t0)

    def counters(self, keys: Iterable[str] = ("total_errors", "dropped_frames", "stale_frames")) -> dict[str, dict]:
        """Cumulative counters per node (short name), from fresh diagnostics."""
        return {name.rsplit("/", 1)[-1]: {k: int(float(vals.get(k, "0"))) for k in keys}
                for name, vals in self.fresh_diagnostics().items()}

    def answering(self, timeout: float = 10.0) -> dict[str, bool]:
        """Each node still answers: the classifier's ~/list_classes service, and fresh /diagnostics."""
        ok = {}
        try:
            self.list_classes(timeout)
            ok["classifier_service"] = True
        except (TimeoutError, RuntimeError):
            ok["classifier_service"] = False
        fresh = self.fresh_diagnostics(timeout)
        for n in self.node_names:
            ok[n] = f"/{self.ns}/{n}" in fresh
        return ok

    def trim(self, keep_s: float = 120.0) -> None:
        """Forget recorded messages older than ``keep_s`` (a long run would pile them up)."""
        cut = time.monotonic() - keep_s
        with self.probe.lock:
            for topic, items in self.probe.received.items():
                self.probe.received[topic] = [(t, m) for t, m in items if t >= cut]

    def node(self, name: str) -> Any:
        """An in-process node by name (mode ``inprocess``)."""
        return self.nodes[self.node_names.index(name)]

    # ------------------------------------------------------------------- lifetime
    def stop(self) -> dict[str, int]:
        """Stop everything (node processes with SIGTERM: they save); exit codes of the processes."""
        codes = {n: p.stop() for n, p in self.procs.items()}
        if "camera" in self.node_names and self.nodes:  # stop producing first, let in-flight callbacks end
            self.node("camera").stop_capture()
            time.sleep(0.5)
        self._spinner.stop()
        if self._own_domain:
            release_domain(self.domain)
        return codes

    def __enter__(self) -> Graph:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def teach_command(label: str, target: Any) -> dict:
    """The teach command for a ground-truth detection: by its track id, else by its box."""
    return {"label": label, "track_id": target.track_id} if target.track_id is not None else \
        {"label": label, "box": list(target.box)}

