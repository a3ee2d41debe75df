"""The evaluation run end to end on a tiny real ViZDoom dataset, with a known "model"."""

import json

import av
import numpy as np
import pytest

from livefoley.models.data.shards import list_shards, read_shard
from livefoley.models.evaluation.baselines import NearestNeighbourRetrieval, shuffled_audio
from livefoley.models.evaluation.runner import EvalConfig, evaluate, score_pair
from livefoley.protocol.errors import ConfigError

SR = 48000


def _oracle(dataset, delay_ms):
    """A 'model' that knows the real audio: it looks the clip up by its first frame."""
    shards = [read_shard(p) for p in list_shards(dataset, "heldout")]

    def generate(frames, fps):
        s = next(s for s in shards if np.array_equal(s.frames[0], frames[0]))
        d = int(delay_ms * SR / 1000)
        real = np.asarray(s.audio)
        return np.concatenate([np.zeros((d, 2), np.float32), real])[: len(real)]

    return generate


@pytest.fixture(scope="module")
def run40(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval_out")
    cfg = EvalConfig(max_seconds=3.0, embeddings=True, examples=1, example_seconds=1.0)
    res = evaluate(dataset, out, generate=_oracle(dataset, 40.0), model_name="oracle40",
                   config=cfg)
    return out, res


def test_oracle_delayed_40ms_reads_as_40ms_and_beats_baselines(run40):
    out, res = run40
    s = res["summary"]
    assert res["systems"] == ["oracle40", "silence", "shuffled", "nn_retrieval", "real"]
    assert abs(s["oracle40"]["abs_lag_ms"] - 40.0) <= 3.0
    assert s["real"]["onset_f"] == 1.0 and s["real"]["mr_stft"] == 0.0
    assert s["silence"]["onset_f"] == 0.0 and s["silence"]["lag_defined"] == 0
    # 40 ms is inside the 50 ms onset window: the delayed oracle still matches nearly all
    assert s["oracle40"]["onset_f"] > 0.9 > s["shuffled"]["onset_f"]
    assert s["oracle40"]["mr_stft"] < s["silence"]["mr_stft"]


def test_report_counts_onsets_emitted_against_real(run40):
    out, res = run40
    s = res["summary"]
    n_real = s["real"]["onsets_real"]
    assert n_real > 0 and s["real"]["onsets_emitted"] == n_real
    assert s["silence"]["onsets_emitted"] == 0 and s["silence"]["onsets_real"] == n_real
    per = res["per_episode"]["oracle40"]
    assert s["oracle40"]["onsets_emitted"] == sum(e["onset_n_est"] for e in per)
    row = f"| onsets emitted / real (recall's other side) | | {s['oracle40']['onsets_emitted']} / {n_real} | 0 / {n_real} |"
    assert row in (out / "report.md").read_text()


def test_report_plots_and_examples_are_written(run40):
    out, res = run40
    report = (out / "report.md").read_text()
    assert "| onset F-measure (50 ms) | higher |" in report and "oracle40" in report
    for name in ("metrics.png", "envelopes.png", "ild.png", "results.json"):
        assert (out / name).stat().st_size > 1000
    assert json.loads((out / "results.json").read_text())["summary"]["real"]["onset_f"] == 1
    mp4 = out / "examples" / "heldout-00000-oracle40.mp4"
    with av.open(str(mp4)) as c:
        assert {st.type for st in c.streams} == {"video", "audio"}
        n_audio = sum(f.samples for f in c.decode(audio=0))
    assert abs(n_audio - SR) < 2048


def test_frechet_distance_in_the_run(run40):
    s = run40[1]["summary"]
    assert s["real"]["fd_aisfx"] == pytest.approx(0.0, abs=1e-3)
    assert s["oracle40"]["fd_aisfx"] < s["silence"]["fd_aisfx"]
    # shuffled audio is the real clips in another order: pooled, the same distribution, so
    # its FD is ~0 by construction (it is a sync baseline, not a quality one)
    assert s["shuffled"]["fd_aisfx"] < 0.05 * s["silence"]["fd_aisfx"]
    # The model's and the real audio's embeddings per clip, for eval-compare's FD interval.
    with np.load(run40[0] / "embeddings.npz") as z:
        assert sorted(z.files) == ["oracle40/0", "oracle40/1", "real/0", "real/1"]
        assert z["real/0"].shape[1] == 512 and z["oracle40/0"].shape[1] == 512


def test_more_delay_scores_worse(dataset):
    # Doom's rapid fire is dense: an 80 ms late onset often lands on the next real one, so
    # F does not drop to 0, but it drops, and the lag reads 80 ms.
    s = read_shard(list_shards(dataset, "heldout")[0])
    real = np.asarray(s.audio[: 3 * SR])
    cfg = EvalConfig()
    scores = {}
    for delay_ms in (0, 40, 80):
        d = int(delay_ms * SR / 1000)
        late = np.concatenate([np.zeros((d, 2), np.float32), real])[: len(real)]
        scores[delay_ms] = score_pair(late, real, SR, cfg)
    f = {k: v["onset_matches"] / max(v["onset_n_ref"], 1) for k, v in scores.items()}
    assert f[0] == 1.0 and f[80] < f[40]
    assert abs(scores[80]["lag_ms"] - 80.0) <= 3.0


def test_nearest_neighbour_retrieves_its_own_training_audio(dataset):
    shards = [read_shard(p) for p in list_shards(dataset, "train")]
    nn = NearestNeighbourRetrieval().fit(shards)
    s = shards[0]
    out = nn.generate(np.asarray(s.frames), s.fps)
    n = len(out)
    # querying a training clip retrieves (almost) exactly its own audio, hop by hop
    same = np.mean([np.array_equal(out[j:j + 1600], s.audio[j:j + 1600])
                    for j in range(0, n, 1600)])
    assert same > 0.9


def test_shuffled_uses_another_episode():
    a, b = np.ones((10, 2), np.float32), np.full((4, 2), 2.0, np.float32)
    np.testing.assert_array_equal(shuffled_audio([a, b], 0), np.full((10, 2), 2.0))
    np.testing.assert_array_equal(shuffled_audio([b, a], 0), np.ones((4, 2)))
    with pytest.raises(ConfigError, match=r"at least one episode, found none"):
        shuffled_audio([], 0)


def test_dataset_without_heldout_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"found 0 train and 0 heldout"):
        evaluate(tmp_path, tmp_path / "out")


def test_a_capped_run_says_how_many_clips_it_left_out(dataset, tmp_path, caplog):
    cfg = EvalConfig(max_episodes=1, max_seconds=1.0, embeddings=False, examples=0, plots=False)
    with caplog.at_level("WARNING"):
        res = evaluate(dataset, tmp_path, generate=_oracle(dataset, 0.0), model_name="oracle0",
                       config=cfg)
    assert len(res["episodes"]) == 1 and res["heldout_available"] == 2
    assert "the first 1 of 2 held-out episodes" in caplog.text
    assert "1 held-out clips (the first 1 of 2: --max-episodes)" in (tmp_path / "report.md").read_text()
