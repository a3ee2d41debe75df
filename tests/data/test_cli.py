"""`livefoley data generate` and `livefoley data info` through the real dispatcher."""

import json

from livefoley.sidecar.cli import main


def test_generate_then_info(tmp_path, capsys):
    out = tmp_path / "ds"
    args = ["data", "generate", "--out", str(out), "--seed", "9", "--train-episodes", "1",
            "--heldout-episodes", "1", "--tics", "12", "--resolution", "320x240",
            "--agents", "aggressive"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "[1/2] train-00000: 12 tics" in printed and "made 2 shards" in printed
    meta = json.loads((out / "shards" / "train-00000" / "meta.json").read_text())
    assert meta["arrays"]["frames"]["shape"] == [12, 240, 320, 3]
    assert meta["agent"] == "aggressive" and meta["seed"] % 2 == 0
    assert main(["data", "info", "--data", str(out)]) == 0
    info = capsys.readouterr().out
    assert "train: 1/1 shards, 12 tics" in info and "heldout: 1/1 shards" in info


def test_generate_refuses_bad_resolution(tmp_path, capsys):
    rc = main(["data", "generate", "--out", str(tmp_path / "ds"), "--train-episodes", "1",
               "--heldout-episodes", "0", "--tics", "5", "--resolution", "7x7"])
    assert rc == 2
    assert "found '7x7'" in capsys.readouterr().err
