"""Corrupt or incompatible files give a clear error and nothing on disk is overwritten;
concurrent saves never leave an older memory on disk; a failed save is not a learned class."""

import threading

import numpy as np
import pytest

from chhnn_ros.bench.reliability_files import run_file_checks
from chhnn_ros.nodes import memory
from chhnn_ros.nodes.knowledge import Knowledge


def test_every_bad_file_case_is_a_clear_error_with_the_directory_unchanged(tmp_path):
    r = run_file_checks(tmp_path)
    bad = {k: v for k, v in r["file_cases"].items() if not v["ok"]}
    assert not bad, bad
    assert r["file_cases_total"] >= 15
    cases = r["file_cases"]
    assert "truncated" in cases["prior_truncated_30pct"]["message"]
    assert "start_empty_on_error" in cases["memory_truncated_50pct"]["message"]


def test_stale_temp_files_of_a_killed_save_are_removed_at_start(tmp_path):
    path = tmp_path / "memory.pt"
    k = Knowledge("ncm", "", 0, str(path), False)
    k.teach("cup", np.ones((3, 4), np.float32), "test")
    (tmp_path / ".memory.pt.abc123.tmp").write_bytes(b"half a save")
    k2 = Knowledge("ncm", "", 0, str(path), False)
    assert k2.classes() == ["cup"] and "removed 1 temporary file" in k2.notice
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memory.pt"]


def test_concurrent_saves_keep_the_newest_version(tmp_path):
    path = tmp_path / "memory.pt"
    k = Knowledge("ncm", "", 0, str(path), False)
    rng = np.random.default_rng(0)
    stop = threading.Event()

    def saver():
        while not stop.is_set():
            k.save()

    threads = [threading.Thread(target=saver) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(15):
            version = k.teach(f"c{i}", rng.standard_normal((3, 4)).astype(np.float32), "test")
            # teach returned = reported learned: the file must already hold it, whatever the savers do
            assert memory.load(path)["database_version"] >= version
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert memory.load(path)["database_version"] == 15


def test_a_teach_whose_save_fails_is_not_learned(tmp_path, monkeypatch):
    path = tmp_path / "memory.pt"
    k = Knowledge("ncm", "", 0, str(path), False)
    k.teach("cup", np.ones((3, 4), np.float32), "test")

    def full(*a, **kw):
        raise OSError("No space left on device")

    monkeypatch.setattr(memory, "save", full)
    with pytest.raises(OSError):
        k.teach("key", np.zeros((3, 4), np.float32), "test")
    assert k.classes() == ["cup"] and k.database_version == 1  # "failed, nothing changed" is true


def test_cli_files_part_writes_json_and_table(tmp_path, capsys):
    import json

    from chhnn_ros.bench import cli

    out = tmp_path / "r.json"
    assert cli.main(["reliability", "--parts", "files", "--json", str(out), "--workdir", str(tmp_path / "w")]) == 0
    r = json.loads(out.read_text())
    assert r["file_cases_failed"] == 0 and r["parts"] == ["files"]
    table = capsys.readouterr().out
    assert "| file_cases_failed | 0 | 0 | yes |" in table and "| lost_classes | not run |" in table
    assert cli.main(["reliability", "--parts", "bogus", "--json", str(out)]) == 2
