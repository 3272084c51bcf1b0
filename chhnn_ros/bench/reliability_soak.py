"""Soak: the full graph on the PyBullet scene at the camera's full rate, a teach every
``teach_every_s``, resident memory of every node sampled from /proc.

RSS growth is measured from the end of the warm-up (imports, first teaches,
allocator pools settle) to the end of the run, per node; errors are the
ERROR/FATAL lines and tracebacks the nodes logged during the soak, in a
running :class:`~chhnn_ros.graph.Graph`.
"""

from __future__ import annotations

import time
from typing import Any

from chhnn_ros.bench.graph_checks import teach_visible
from chhnn_ros.graph import ERROR_RE, Graph


def run_soak(g: Graph, minutes: float, warmup_frac: float = 0.3, teach_every_s: float = 60.0,
             sample_every_s: float = 5.0, log=print) -> dict[str, Any]:
    total = 60.0 * minutes
    warmup = warmup_frac * total
    start = {n: len(p.text()) for n, p in g.procs.items()}  # only what is logged from now on counts
    t0 = time.monotonic()
    n_objects, last_count = 0, t0
    samples: list[tuple[float, dict[str, float]]] = []
    teaches: list[dict[str, Any]] = []
    next_teach, next_sample, k = t0, t0, 0
    while (now := time.monotonic()) - t0 < total:
        if now >= next_teach:
            label = f"soak{k}"
            s = teach_visible(g, label, timeout=min(90.0, total))
            teaches.append({"label": label, "t_s": round(now - t0, 1),
                            "state": s["state"] if s else "no answer"})
            k, next_teach = k + 1, now + teach_every_s
        if now >= next_sample:
            samples.append((now - t0, g.rss_mb()))
            next_sample = now + sample_every_s
            n_objects += len(g.probe.messages_of("objects", last_count))
            last_count = now
            g.trim(30.0)
        g.probe.wait_for(lambda: False, 0.5)
    samples.append((time.monotonic() - t0, g.rss_mb()))
    elapsed = time.monotonic() - t0
    base = next((s for t, s in samples if t >= warmup), samples[0][1])
    end = samples[-1][1]
    growth = {n: round(100.0 * (end[n] - base[n]) / base[n], 2) for n in base if base[n] > 0}
    errors = {n: [ln[:300] for ln in p.text()[start[n]:].splitlines() if ERROR_RE.match(ln)]
              for n, p in g.procs.items()}
    n_objects += len(g.probe.messages_of("objects", last_count))
    return {
        "soak_minutes": round(elapsed / 60.0, 2),
        "warmup_s": round(warmup, 1),
        "rss_mb_after_warmup": base,
        "rss_mb_end": end,
        "rss_growth_pct_by_node": growth,
        "rss_growth_pct": max(growth.values()) if growth else float("nan"),
        "rss_series": [[round(t, 1), s] for t, s in samples],
        "teaches": teaches,
        "teaches_learned": sum(t["state"] == "learned" for t in teaches),
        "objects_msgs": n_objects,
        "objects_hz": round(n_objects / elapsed, 2),
        "log_errors": sum(len(v) for v in errors.values()),
        "log_error_lines": {n: v[:5] for n, v in errors.items() if v},
        "alive": g.alive(),
    }
