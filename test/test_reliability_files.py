"""Corrupt or incompatible files give a clear error and nothing on disk is overwritten;
concurrent saves never leave an older memory on disk; a failed save is not a learned class."""

import threading

import numpy as np
import pytest

from chhnn_ros.app import memory_file
from chhnn_ros.app.knowledge import Knowledge
from chhnn_ros.bench.reliability_files import CASES, check_start_empty, run_case


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_file_is_a_clear_error_with_the_directory_unchanged(case, tmp_path):
    r = run_case(case, tmp_path)
    assert r["ok"], r


def test_the_file_checks_cover_every_kind_of_file(tmp_path):
    assert len(CASES) >= 15 and len({c.name for c in CASES}) == len(CASES)
    r = {c.name: run_case(c, tmp_path) for c in CASES if c.name in ("prior_truncated_30pct", "memory_truncated_50pct")}
    assert "truncated" in r["prior_truncated_30pct"]["message"]
    assert "start_empty_on_error" in r["memory_truncated_50pct"]["message"]
    assert check_start_empty(tmp_path)["ok"]


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
            assert memory_file.load(path)["database_version"] >= version
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert memory_file.load(path)["database_version"] == 15


def test_a_teach_whose_save_fails_is_not_learned(tmp_path, monkeypatch):
    path = tmp_path / "memory.pt"
    k = Knowledge("ncm", "", 0, str(path), False)
    k.teach("cup", np.ones((3, 4), np.float32), "test")

    def full(*a, **kw):
        raise OSError("No space left on device")

    monkeypatch.setattr(memory_file, "save", full)
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
