"""The import-layer contract: the package's layers import only downwards, with no cycles.

Every ``import`` in the package counts, module-level or inside a function (a function-level import
is still a dependency; it only hides a cycle).  Layers, bottom to top:

    params, files           parameter table, atomic writes
    learning, perception    the science and the perception (no ROS, no simulator)
    sim                     PyBullet; registers its frame source with perception
    app                     the application core: knowledge, teaching, labelling, stages (no ROS)
    ros                     ROS glue: parameters, QoS, conversions, diagnostics, probe, runtime
    nodes                   the node adapters
    graph                   the one graph runner
    cli, demos, bench       user commands, demos, benchmarks (bench imported by nobody else)
"""

import ast
from collections import defaultdict
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "chhnn_ros"
LAYER = {"params": 0, "files": 0, "data": 0, "learning": 1, "perception": 1, "sim": 2, "app": 3, "ros": 4,
         "nodes": 5, "graph": 6, "cli": 7, "demos": 7, "bench": 7}
ROS_FREE = {"params", "files", "learning", "perception", "sim", "app"}
ROS_MODULES = ("rclpy", "rcl_interfaces", "std_msgs", "sensor_msgs", "std_srvs", "diagnostic_msgs",
               "builtin_interfaces", "launch", "launch_ros")


def part_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "chhnn_ros" and len(parts) > 1 else None


def imports() -> dict[str, set[str]]:
    """Module path (relative) → the modules it imports, anywhere in the file."""
    out = {}
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        out[str(path.relative_to(PKG))] = names
    return out


def package_of(rel: str) -> str:
    return rel.split("/")[0].removesuffix(".py")


def test_every_part_is_in_a_layer():
    parts = {package_of(r) for r in imports()} - {"__init__"}
    assert parts <= set(LAYER), parts - set(LAYER)


def test_layers_import_only_downwards():
    bad = []
    for rel, names in imports().items():
        mine = package_of(rel)
        if mine == "__init__":
            continue
        for name in names:
            other = part_of(name)
            if other is None or other == mine:
                continue
            if LAYER[other] >= LAYER[mine] and not (mine in ("cli", "demos") and other in ("cli", "demos")):
                bad.append(f"{rel} imports {name} ({mine} may not import {other})")
    assert not bad, "\n".join(bad)


def test_nothing_imports_bench_but_bench():
    bad = [f"{rel} imports {n}" for rel, names in imports().items() for n in names
           if part_of(n) == "bench" and package_of(rel) != "bench"]
    assert not bad, bad


def test_core_layers_never_import_ros():
    bad = [f"{rel} imports {n}" for rel, names in imports().items() for n in names
           if package_of(rel) in ROS_FREE and n.split(".")[0] in ROS_MODULES]
    assert not bad, bad


def test_no_package_level_cycles():
    edges = defaultdict(set)
    for rel, names in imports().items():
        mine = package_of(rel)
        for n in names:
            other = part_of(n)
            if other and other != mine and mine != "__init__":
                edges[mine].add(other)
    seen, stack = set(), []

    def visit(node):
        if node in stack:
            raise AssertionError(f"import cycle: {' -> '.join(stack[stack.index(node):] + [node])}")
        if node in seen:
            return
        stack.append(node)
        for nxt in sorted(edges[node]):
            visit(nxt)
        stack.pop()
        seen.add(node)

    for node in sorted(edges):
        visit(node)


def test_no_module_level_cycles_inside_a_package():
    """e.g. encoders/efficientnet.py and encoders/onnx_export.py must not import each other."""
    graph = defaultdict(set)
    mods = {str(p.relative_to(PKG.parent)).removesuffix(".py").replace("/", ".").removesuffix(".__init__")
            for p in PKG.rglob("*.py")}
    for rel, names in imports().items():
        me = ("chhnn_ros/" + rel).removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        for n in names:
            if n in mods and n != me and part_of(n) == part_of(me):
                graph[me].add(n)
    cycles = [f"{a} <-> {b}" for a in graph for b in graph[a] if a in graph.get(b, ()) and a < b]
    assert not cycles, cycles
