"""Shards are written atomically: a killed writer never leaves a shard that reads as whole."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from livefoley.models.data.shards import (
    TMP_PREFIX,
    ShardError,
    list_shards,
    read_shard,
    remove_stale_temps,
    shard_dir,
    write_shard,
)


def _arrays(t=5):
    return {"frames": np.full((t, 4, 6, 3), 7, np.uint8),
            "audio": np.linspace(-1, 1, t * 20, dtype=np.float32).reshape(-1, 2),
            "timestamps_ns": np.arange(t, dtype=np.int64) * 28_571_429,
            "actions": np.eye(t, 3, dtype=np.float32)}


def test_round_trip(tmp_path):
    arrays = _arrays()
    write_shard(tmp_path, "train-00000", arrays, {"scenario": "basic", "sample_rate_hz": 48000,
                                                  "fps": 35})
    (path,) = list_shards(tmp_path)
    s = read_shard(path)
    for key, arr in arrays.items():
        np.testing.assert_array_equal(getattr(s, key), arr)
    assert s.meta["scenario"] == "basic" and s.sample_rate_hz == 48000 and s.fps == 35.0
    assert list_shards(tmp_path, "heldout") == []


def test_existing_shard_name_is_refused(tmp_path):
    write_shard(tmp_path, "train-00000", _arrays(), {})
    with pytest.raises(ShardError, match=r"expected no shard of that name, found one"):
        write_shard(tmp_path, "train-00000", _arrays(), {})


def test_bad_shard_name(tmp_path):
    with pytest.raises(ShardError, match=r"expected '<split>-<5 digits>', found 'train-1'"):
        write_shard(tmp_path, "train-1", _arrays(), {})


def test_truncated_array_is_refused(tmp_path):
    path = write_shard(tmp_path, "train-00000", _arrays(50), {})
    f = path / "frames.npy"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(ShardError, match=r"frames.npy: expected \|u1 \(50, 4, 6, 3\)"):
        read_shard(path)


def test_other_format_is_refused(tmp_path):
    path = write_shard(tmp_path, "train-00000", _arrays(), {})
    meta = path / "meta.json"
    meta.write_text(meta.read_text().replace("livefoley-shard/1", "livefoley-shard/9"))
    with pytest.raises(ShardError, match=r"expected format 'livefoley-shard/1', "
                                         r"found 'livefoley-shard/9'"):
        read_shard(path)


def test_missing_meta_is_refused(tmp_path):
    path = write_shard(tmp_path, "train-00000", _arrays(), {})
    (path / "meta.json").unlink()
    with pytest.raises(ShardError, match=r"expected meta.json, found none"):
        read_shard(path)


WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from livefoley.models.data import shards
    real_save = np.save
    def slow_save(f, arr, **kw):
        real_save(f, arr, **kw)
        print("wrote", arr.shape, flush=True)
        time.sleep(60)  # the parent kills us here, half-way through the shard
    np.save = slow_save
    t = 5
    shards.write_shard(sys.argv[1], "train-00000", {
        "frames": np.zeros((t, 4, 6, 3), np.uint8),
        "audio": np.zeros((t * 10, 2), np.float32),
        "timestamps_ns": np.arange(t, dtype=np.int64),
        "actions": np.zeros((t, 3), np.float32)}, {})
""")


def test_killed_writer_leaves_no_whole_shard(tmp_path):
    with subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)],
                          stdout=subprocess.PIPE, text=True) as proc:
        try:
            line = proc.stdout.readline()
            assert line.startswith("wrote"), line
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGKILL
    temps = [p for p in shard_dir(tmp_path).iterdir() if p.name.startswith(TMP_PREFIX)]
    assert len(temps) == 1
    assert list_shards(tmp_path) == []  # a reader sees nothing
    with pytest.raises(ShardError, match=r"expected a complete shard, found a temporary folder"):
        read_shard(temps[0])
    # the next generator run cleans up and can write the same shard
    assert remove_stale_temps(tmp_path) == 1
    write_shard(tmp_path, "train-00000", _arrays(), {})
    assert [p.name for p in list_shards(tmp_path)] == ["train-00000"]
