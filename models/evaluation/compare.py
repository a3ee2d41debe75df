"""Is one `livefoley eval` run better than another on the same clips, beyond clip-to-clip noise?

What it is: `compare_runs`, a paired bootstrap over the held-out clips of two `results.json`
files (the same clips, e.g. the shipped model and a candidate): each draw resamples the clips
with replacement, recomputes both systems' summaries exactly as the report does
(`runner.aggregate`: onset scores micro-averaged, the rest means over clips) and keeps the
difference. A metric is "better" or "worse" when the central `level` interval of those
differences excludes zero, else "within noise". `livefoley eval-compare` prints the table and,
with `--fail-if-worse`, exits non-zero when a candidate is worse on any metric beyond noise
(a gate for promoting a model).

Why paired: the clips differ far more from one another than two models do on one clip (MR-STFT
spans 2.0-4.3 across the 8 validation clips for one model), so only differences on the same
clip carry the signal.

The Fréchet distance is one number over the whole set. When both runs stored their per-clip
embeddings (`embeddings.npz`, written by eval runs since 2026-12-04), each draw pools the
drawn clips' embeddings of both models and of the real audio and recomputes both distances
(`fd_boot` draws, fewer than for the per-clip metrics: each costs two 512-d matrix square
roots). Older runs get the two values side by side, "no interval". A drawn set repeats clips,
so its distances sit above the full set's; the interval is of the difference, which that bias
mostly cancels.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from livefoley.models.evaluation.frechet import frechet_distance
from livefoley.models.evaluation.report import METRICS as REPORT_METRICS
from livefoley.models.evaluation.runner import EMBEDDINGS_FILE, aggregate
from livefoley.protocol.errors import ConfigError

# The report's metrics as (summary key, which direction is better): per clip, and over the set.
SET_KEYS = ("fd_aisfx",)
METRICS = tuple((k, b) for k, _, b in REPORT_METRICS if k not in SET_KEYS)
SET_METRICS = tuple((k, b) for k, _, b in REPORT_METRICS if k in SET_KEYS)


@dataclasses.dataclass(frozen=True)
class MetricComparison:
    """One metric: both values, new - base, its bootstrap interval and the verdict."""

    name: str
    better: str  # "higher" or "lower"
    base: float
    new: float
    diff: float
    low: float  # nan for set-level metrics
    high: float
    verdict: str  # "better", "worse", "within noise" or "no interval"


def load_results(path: str | Path) -> dict[str, Any]:
    """A `results.json`, or the eval folder that holds one.

    Raises:
        ConfigError: no such file, not JSON, or no per-clip scores (names what was found).
    """
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    if not p.is_file():
        raise ConfigError(f"eval results {path}: expected a results.json (or its folder), "
                          "found none")
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"eval results {p}: expected JSON, found unreadable text "
                          f"({exc})") from exc
    if not isinstance(data, dict) or "per_episode" not in data or "episodes" not in data:
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"eval results {p}: expected the keys 'episodes' and 'per_episode' "
                          f"of `livefoley eval`, found {found}")
    emb = p.parent / EMBEDDINGS_FILE
    if emb.is_file():
        with np.load(emb) as z:
            data["embeddings"] = {k: z[k] for k in z.files}
    return data


def _clip_embeddings(run: dict[str, Any], name: str, n: int) -> list[np.ndarray] | None:
    emb = run.get("embeddings", {})
    got = [emb.get(f"{name}/{i}") for i in range(n)]
    return None if any(e is None for e in got) else got


def _clips(run: dict[str, Any]) -> list[tuple[str, float]]:
    return [(str(e.get("name")), float(e.get("seconds", 0.0))) for e in run["episodes"]]


def compare_runs(base: dict[str, Any], new: dict[str, Any], *, system: str = "model",
                 n_boot: int = 2000, level: float = 0.95, seed: int = 0, fd_boot: int = 200
                 ) -> list[MetricComparison]:
    """Paired bootstrap of `new` against `base` (both from `load_results`); see module docstring.

    Raises:
        ConfigError: the runs scored different clips, `system` is missing from either,
            n_boot / fd_boot / level are out of range, or the stored embeddings of the real
            audio differ between the runs.
    """
    if n_boot < 1 or fd_boot < 1 or not 0.0 < level < 1.0:
        raise ConfigError(f"eval-compare: expected n_boot >= 1, fd_boot >= 1 and 0 < level < 1, "
                          f"found {n_boot}, {fd_boot} and {level}")
    if _clips(base) != _clips(new):
        raise ConfigError(f"eval-compare: expected both runs on the same clips, found "
                          f"{_clips(base)} and {_clips(new)}")
    for name, run in (("base", base), ("new", new)):
        if system not in run["per_episode"]:
            raise ConfigError(f"eval-compare: expected system {system!r} in the {name} run, "
                              f"found {sorted(run['per_episode'])}")
    pb, pn = base["per_episode"][system], new["per_episode"][system]
    n = len(pb)
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    diffs = {k: np.empty(n_boot) for k, _ in METRICS}
    for d, rows in enumerate(draws):
        a = aggregate([pb[i] for i in rows])
        b = aggregate([pn[i] for i in rows])
        for k, _ in METRICS:
            diffs[k][d] = b[k] - a[k]
    sa, sn = aggregate(pb), aggregate(pn)
    tail = 100.0 * (1.0 - level) / 2.0
    out = []
    for k, better in METRICS:
        finite = diffs[k][np.isfinite(diffs[k])]
        if finite.size == 0:
            low = high = math.nan
        else:
            low, high = (float(x) for x in np.percentile(finite, [tail, 100.0 - tail]))
        out.append(MetricComparison(k, better, sa[k], sn[k], sn[k] - sa[k], low, high,
                                    _verdict(better, low, high)))
    for k, better in SET_METRICS:
        a = base.get("summary", {}).get(system, {}).get(k, math.nan)
        b = new.get("summary", {}).get(system, {}).get(k, math.nan)
        low, high = _fd_interval(base, new, system, n, draws[:fd_boot], tail)
        verdict = "no interval" if math.isnan(low) else _verdict(better, low, high)
        out.append(MetricComparison(k, better, a, b, b - a, low, high, verdict))
    return out


def _fd_interval(base: dict[str, Any], new: dict[str, Any], system: str, n: int,
                 draws: np.ndarray, tail: float) -> tuple[float, float]:
    """Bootstrap interval of FD(new) - FD(base) over `draws` of the clips; nan without
    stored embeddings (or when the two runs' real-audio embeddings differ)."""
    eb, en = _clip_embeddings(base, system, n), _clip_embeddings(new, system, n)
    real, real_new = _clip_embeddings(base, "real", n), _clip_embeddings(new, "real", n)
    if eb is None or en is None or real is None or real_new is None:
        return math.nan, math.nan
    if not all(np.allclose(x, y, atol=1e-4) for x, y in zip(real, real_new, strict=True)):
        raise ConfigError("eval-compare: expected both runs to embed the same real audio, "
                          "found different embeddings (different data or embedding model)")
    diffs = []
    for rows in draws:
        r = np.concatenate([real[i] for i in rows])
        diffs.append(frechet_distance(np.concatenate([en[i] for i in rows]), r)
                     - frechet_distance(np.concatenate([eb[i] for i in rows]), r))
    low, high = np.percentile(diffs, [tail, 100.0 - tail])
    return float(low), float(high)


def _verdict(better: str, low: float, high: float) -> str:
    if math.isnan(low) or low <= 0.0 <= high:
        return "within noise"
    improved = (low > 0.0) == (better == "higher")
    return "better" if improved else "worse"


def comparison_table(rows: list[MetricComparison], level: float = 0.95) -> str:
    """Markdown: metric, base, new, difference, its interval, verdict."""
    pct = f"{100 * level:g} %"
    lines = [f"| metric | better | base | new | new - base | {pct} interval | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        interval = "n/a" if math.isnan(r.low) else f"[{r.low:+.4g}, {r.high:+.4g}]"
        lines.append(f"| {r.name} | {r.better} | {r.base:.4g} | {r.new:.4g} | {r.diff:+.4g} | "
                     f"{interval} | {r.verdict} |")
    return "\n".join(lines)
