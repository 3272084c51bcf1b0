"""A node that cannot start says why in one FATAL line and exits 1: no second traceback."""

import subprocess
import sys

import pytest

pytest.importorskip("rclpy")


def _cases(tmp_path):
    corrupt = tmp_path / "memory.pt"
    corrupt.write_bytes(b"not a memory file")
    typo = tmp_path / "typo.yaml"
    typo.write_text("/**/clasifier:\n  ros__parameters:\n    learner: ncm\n")
    return {
        "corrupt_memory": ("classifier", ["-p", f"memory_path:={corrupt}"], "cannot be read"),
        "unknown_learner": ("classifier", ["-p", "learner:=nope", "-p", "memory_path:=''"], "unknown learner 'nope'"),
        "bad_learner_params": ("classifier", ["-p", "learner:=ncm", "-p", 'learner_params:="{scal: 2}"', "-p",
                                              "memory_path:=''"], "scal"),
        "misspelt_parameter": ("classifier", ["-p", "teach_sampels:=3", "-p", "memory_path:=''"],
                               "did you mean 'teach_samples'"),
        "misspelt_node_in_params_file": ("classifier", ["--params-file", str(typo)], "did you mean 'classifier'"),
        "value_out_of_range": ("camera", ["-p", "rate:=-5.0"], "rate"),
        "bad_source": ("camera", ["-p", "source:=video", "-p", f"source_path:={tmp_path}/none.mp4"], "none.mp4"),
        "missing_yolo_weights": ("detector", ["-p", "detector:=yolo", "-p", f"model:={tmp_path}/none.pt"],
                                 "none.pt"),
    }


CASES = ["corrupt_memory", "unknown_learner", "bad_learner_params", "misspelt_parameter",
         "misspelt_node_in_params_file", "value_out_of_range", "bad_source", "missing_yolo_weights"]


@pytest.mark.parametrize("case", CASES)
def test_start_up_failure_is_one_fatal_line(case, tmp_path):
    from chhnn_ros.graph import child_env

    node, args, why = _cases(tmp_path)[case]
    out = subprocess.run([sys.executable, "-m", f"chhnn_ros.nodes.{node}_node", "--ros-args", *args],
                         env=child_env(None), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    text = out.stdout + out.stderr
    fatal = [ln for ln in text.splitlines() if "FATAL" in ln]
    assert out.returncode == 1, text
    assert len(fatal) == 1 and "cannot start" in fatal[0] and why in fatal[0], text
    assert "Traceback" not in text and "AttributeError" not in text, text


STUCK_NODE = """
import sys, threading
import rclpy
from rclpy.node import Node
from chhnn_ros.ros import runtime

runtime.SHUTDOWN_BUDGET_S = 2.0


class Stuck(Node):
    def __init__(self):
        super().__init__("stuck")

    def destroy_node(self):
        print("closing", flush=True)
        threading.Event().wait()  # a clean-up that never returns


sys.exit(runtime.main_for([Stuck], sys.argv))
"""


def test_a_stuck_shutdown_ends_with_every_threads_stack(tmp_path):
    """A node whose clean-up never returns must not outlive the stop budget: the process prints
    where each thread is and exits 1, instead of waiting to be killed without a trace."""
    import signal
    import time

    from chhnn_ros.graph import child_env

    proc = subprocess.Popen([sys.executable, "-c", STUCK_NODE], env=child_env(None), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        time.sleep(3.0)  # rclpy up and spinning
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "closing" in out, out + err
    assert proc.returncode == 1, out + err
    assert "Timeout" in err and "destroy_node" in err, err
