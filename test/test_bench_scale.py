"""chhnn-bench scale: classes taught through the classifier's own path, costs per class count."""

import json

from chhnn_ros.bench import cli


def test_scale_writes_every_key_and_the_plot(tmp_path):
    out = tmp_path / "scale.json"
    assert cli.main(["scale", "--classes", "12", "--learner", "ncm", "--dim", "64", "--teach-size", "5",
                     "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert [c["classes"] for c in r["checkpoints"]] == [10, 12]
    for row in r["checkpoints"]:
        assert {"teach_ms", "consolidate_ms", "predict_ms", "predict_first_ms", "file_mb", "rss_mb"} <= set(row)
        assert row["teach_ms"] > 0 and row["predict_first_ms"] > 0
    assert r["path"].startswith("Knowledge.teach") and r["teach_ms_ratio"] > 0
    # NCM stores one float64 mean a class: the file grows by exactly that (plus pickling overhead)
    assert r["learner_bytes_per_class"] == 64 * 8
    assert 64 * 8 <= r["file_bytes_per_class"] < 4 * 64 * 8
    assert out.with_suffix(".png").stat().st_size > 10_000


def test_scale_rejects_too_few_classes(tmp_path, capsys):
    assert cli.main(["scale", "--classes", "3", "--json", str(tmp_path / "s.json")]) == 2
    assert "--classes must be >= 10" in capsys.readouterr().err
