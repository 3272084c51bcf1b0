"""The installed package as ROS 2 tools and users meet it: `ros2 pkg executables`, the
lib/chhnn_ros wrappers started from elsewhere without the venv activated, the venv's activation
giving `ros2` and `ros2 launch` their environment, and the CMake (colcon) install of the same
files as pip's.

Needs the package installed (tools/setup.sh) and, for the ros2 parts, the ros2 CLI wheels; a
test skips when those are absent here, and fails instead under CI, where setup.sh installs them.
"""

from __future__ import annotations

import os
import runpy
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "chhnn_ros"
EXECUTABLES: dict[str, str] = runpy.run_path(str(ROOT / "scripts" / "executables.py"))["EXECUTABLES"]
BIN = Path(sys.executable).parent


def absent(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI runs tools/setup.sh, which installs it)")
    pytest.skip(reason)


def _domain() -> int:
    """This module's own ROS domain id (taken once, from the one allocator)."""
    from chhnn_ros.ros.dds import allocate_domain

    if not _DOMAIN:
        _DOMAIN.append(allocate_domain())
    return _DOMAIN[0]


_DOMAIN: list[int] = []


def ros_env(**extra: str) -> dict[str, str]:
    """This environment plus what the ros2 CLI needs: the venv prefix in AMENT_PREFIX_PATH, an own
    domain, localhost discovery. A copy: os.environ is left as it is."""
    env = dict(os.environ)
    prefixes = [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    if sys.prefix not in prefixes:
        prefixes.insert(0, sys.prefix)
    env.update(AMENT_PREFIX_PATH=os.pathsep.join(prefixes), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               ROS_DOMAIN_ID=str(_domain()))
    env.update(extra)
    return env


def bare_env(**extra: str) -> dict[str, str]:
    """A shell that never activated a venv nor sourced ROS 2."""
    env = {"HOME": os.environ.get("HOME", "/tmp"), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "YOLO_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def ros2() -> str:
    exe = shutil.which("ros2", path=os.pathsep.join([str(BIN), os.environ.get("PATH", "")]))
    if exe is None:
        absent("no ros2 command: the ros2 CLI wheels are not installed (tools/setup.sh installs them from "
               "../shared/wheels/ros2-cli or CHHNN_ROS2_WHEELS)")
    return exe


@pytest.fixture(scope="module")
def prefix() -> Path:
    """The install prefix of chhnn_ros (the venv for a pip install, install/chhnn_ros for colcon)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    old = os.environ.get("AMENT_PREFIX_PATH")
    os.environ["AMENT_PREFIX_PATH"] = ros_env()["AMENT_PREFIX_PATH"]
    try:
        return Path(get_package_prefix(PACKAGE))
    except PackageNotFoundError:
        absent(f"{PACKAGE} is not installed in {sys.prefix} (tools/setup.sh or pip install . installs it)")
    finally:
        if old is None:
            del os.environ["AMENT_PREFIX_PATH"]
        else:
            os.environ["AMENT_PREFIX_PATH"] = old


def test_ros2_pkg_executables_lists_every_executable(ros2, prefix):
    out = subprocess.run([ros2, "pkg", "executables", PACKAGE], env=ros_env(), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    listed = sorted(line.split()[1] for line in out.stdout.splitlines() if line.startswith(PACKAGE + " "))
    assert listed == sorted(EXECUTABLES)
    assert {"camera_node", "detector_node", "encoder_node", "classifier_node", "gz_truth_node"} <= set(listed)
    out = subprocess.run([ros2, "pkg", "prefix", PACKAGE], env=ros_env(), capture_output=True, text=True, timeout=60)
    assert Path(out.stdout.strip()) == prefix


def test_installed_wrappers_are_the_listed_ones(prefix):
    executables = runpy.run_path(str(ROOT / "scripts" / "executables.py"))
    lib = prefix / "lib" / PACKAGE
    assert sorted(p.name for p in lib.iterdir()) == sorted(EXECUTABLES)
    for name in EXECUTABLES:
        assert os.access(lib / name, os.X_OK), f"{lib / name} is not executable"
        assert (lib / name).read_text() == executables["wrapper"](name), f"{lib / name} is stale: reinstall"


def test_installed_package_has_exactly_the_source_modules(prefix):
    """Every module of the source tree is installed (also in folders without an __init__.py), and
    none that the source no longer has."""
    import chhnn_ros

    installed_dirs = [Path(p) for p in chhnn_ros.__path__ if Path(p).resolve() != (ROOT / PACKAGE).resolve()]
    if not installed_dirs:
        absent(f"no installed {PACKAGE} besides the source tree on sys.path")
    site = installed_dirs[0]
    source = {str(p.relative_to(ROOT / PACKAGE)) for p in (ROOT / PACKAGE).rglob("*.py")}
    installed = {str(p.relative_to(site)) for p in site.rglob("*.py")
                 if p.parts[len(site.parts)] not in ("msg", "srv")}  # generated by the CMake build
    assert installed == source, (f"{site} differs from the source tree (run tools/setup.sh again): missing "
                                 f"{sorted(source - installed)}, extra {sorted(installed - source)}")


def test_wrappers_run_from_elsewhere_without_the_venv(prefix, tmp_path):
    """pip install: each lib/chhnn_ros wrapper hands over to the console script in <prefix>/bin, whose
    #! line is the venv's python, so no activation is needed. (A colcon install has no console
    scripts; its wrappers run python3 in the sourced ROS 2 environment: tested with that one.)"""
    pip_install = (prefix / "bin" / "chhnn-teach").is_file()
    env = bare_env() if pip_install else dict(os.environ)
    for name in [n for n in EXECUTABLES if n.startswith("chhnn-")]:
        out = subprocess.run([str(prefix / "lib" / PACKAGE / name), "--help"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"{name} --help: {out.stderr[-2000:]}"
        assert out.stdout.startswith(f"usage: {name}"), out.stdout[:200]


def test_a_node_starts_and_stops_from_its_wrapper(prefix, tmp_path):
    pip_install = (prefix / "bin" / "classifier_node").is_file()
    env = bare_env(**{k: v for k, v in ros_env().items() if k.startswith("ROS_")}) if pip_install else ros_env()
    memory = tmp_path / "memory.pt"
    proc = subprocess.Popen([str(prefix / "lib" / PACKAGE / "classifier_node"), "--ros-args", "-p",
                             f"memory_path:={memory}", "-p", "learner:=ncm"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        end = time.monotonic() + 90
        while time.monotonic() < end:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "starting with no classes" in line:
                break
        assert any("starting with no classes" in line for line in lines), "".join(lines)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    log = "".join(lines) + rest
    assert proc.returncode == 0, log
    assert "Traceback" not in log, log


def test_activating_the_venv_sets_the_ros2_environment(ros2, prefix, tmp_path):
    """A fresh shell: `. <venv>/bin/activate` is all it takes for `ros2 pkg` and `ros2 launch`."""
    activate = Path(sys.prefix) / "bin" / "activate"
    if not (Path(sys.prefix) / "bin" / "chhnn-env").is_file():
        absent(f"{sys.prefix} was not made by tools/setup.sh (no bin/chhnn-env)")
    script = (f'. "{activate}" && . "{activate}" && '  # twice: nothing is added twice
              'echo "$AMENT_PREFIX_PATH|$FASTDDS_DEFAULT_PROFILES_FILE" && '
              f"ros2 pkg prefix {PACKAGE} && ros2 launch --show-args {PACKAGE} perception.launch.py")
    env = bare_env(ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_DOMAIN_ID=ros_env()["ROS_DOMAIN_ID"])
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    ament, profile = lines[0].split("|")
    assert ament == sys.prefix
    assert profile == str(Path(sys.prefix) / "share" / PACKAGE / "config" / "fastdds_large_data.xml")
    assert Path(profile).is_file()
    assert lines[1] == sys.prefix
    assert "'params_file':" in out.stdout and "'image_topic':" in out.stdout  # the installed launch file
    # a profile the user chose is kept
    out = subprocess.run(["bash", "-c", f'. "{activate}" && echo "$FASTDDS_DEFAULT_PROFILES_FILE"'], cwd=tmp_path,
                         env=bare_env(FASTDDS_DEFAULT_PROFILES_FILE="/etc/mine.xml"), capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "/etc/mine.xml"


def test_cmake_installs_what_pip_installs(tmp_path):
    """colcon's install (CMakeLists.txt) of the Python package, the executables and share/ is the
    one setup.py gives pip; its COMPONENT package_files installs without compiling the interfaces."""
    cmake = shutil.which("cmake")
    gen = Path(sys.prefix) / "share" / "rosidl_default_generators"
    if cmake is None or not gen.is_dir():
        absent("cmake or the ROS 2 build wheels (rosidl_default_generators) are missing; tools/setup.sh installs them")
    # A copy of the package's sources: CMake refuses to export include directories inside the source
    # tree (the venv's numpy headers, when the venv lives in the checkout) unless they are inside
    # the install prefix too, which this install is not.
    src, build, dest = tmp_path / "src", tmp_path / "build", tmp_path / "install"
    for name in ("CMakeLists.txt", "package.xml", "scripts/executables.py"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    for name in ("msg", "srv", PACKAGE, "launch", "config", "worlds"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {**os.environ, "AMENT_PREFIX_PATH": sys.prefix}
    out = subprocess.run([cmake, "-S", str(src), "-B", str(build), "-DBUILD_TESTING=OFF",
                          f"-DCMAKE_PREFIX_PATH={sys.prefix}", f"-DPython3_EXECUTABLE={sys.executable}",
                          f"-DCMAKE_INSTALL_PREFIX={dest}"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    out = subprocess.run([cmake, "--install", str(build), "--component", "package_files"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]

    executables = runpy.run_path(str(ROOT / "scripts" / "executables.py"))
    lib = dest / "lib" / PACKAGE
    assert sorted(p.name for p in lib.iterdir()) == sorted(EXECUTABLES)
    for name in EXECUTABLES:
        assert os.access(lib / name, os.X_OK) and (lib / name).read_text() == executables["wrapper"](name)
    share = dest / "share" / PACKAGE

    def files(base: Path, patterns: list[str]) -> set[str]:
        return {str(p.relative_to(base)) for pat in patterns for p in base.glob(pat)}

    # setup.py's data_files: launch/*.py, config/*.yaml + config/*.xml, worlds/*.sdf
    patterns = ["launch/*.py", "config/*.yaml", "config/*.xml", "worlds/*.sdf"]
    assert files(share, ["*/*"]) == files(ROOT, patterns)
    site = next(dest.glob("lib/python3*/site-packages/" + PACKAGE))
    # setup.py: packages=find_packages() (every .py) and package_data data/*.pt, data/*.json, web/static/*
    source = {str(p.relative_to(ROOT / PACKAGE)) for p in [*(ROOT / PACKAGE).rglob("*.py"),
                                                           *(ROOT / PACKAGE).glob("data/*.pt"),
                                                           *(ROOT / PACKAGE).glob("data/*.json"),
                                                           *(ROOT / PACKAGE).glob("web/static/*")]}
    installed = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert installed == source
