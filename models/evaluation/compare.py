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

What it is not: an interval for the Fréchet distance, which is one number over the whole set;
its embeddings are not stored, so it is reported side by side without one.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from livefoley.models.evaluation.report import METRICS as REPORT_METRICS
from livefoley.models.evaluation.runner import aggregate
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
    return data


def _clips(run: dict[str, Any]) -> list[tuple[str, float]]:
    return [(str(e.get("name")), float(e.get("seconds", 0.0))) for e in run["episodes"]]


def compare_runs(base: dict[str, Any], new: dict[str, Any], *, system: str = "model",
                 n_boot: int = 2000, level: float = 0.95, seed: int = 0
                 ) -> list[MetricComparison]:
    """Paired bootstrap of `new` against `base` (both from `load_results`); see module docstring.

    Raises:
        ConfigError: the runs scored different clips, `system` is missing from either, or
            n_boot / level are out of range.
    """
    if n_boot < 1 or not 0.0 < level < 1.0:
        raise ConfigError(f"eval-compare: expected n_boot >= 1 and 0 < level < 1, found "
                          f"{n_boot} and {level}")
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
        out.append(MetricComparison(k, better, a, b, b - a, math.nan, math.nan, "no interval"))
    return out


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
