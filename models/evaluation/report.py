"""The evaluation report: a markdown table of model vs baselines, plots, listening examples.

What it is: rendering of a `runner.evaluate` result: report.md (one row per metric, one
column per system, with the better direction), metrics.png (a bar chart per metric),
envelopes.png (onset envelopes of one held-out clip, real onsets marked), ild.png (ILD over
time), and examples/*.mp4 (held-out frames with each system's audio).

What it is not: where metrics are computed (`runner.py`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from livefoley.models.evaluation.media import write_mp4
from livefoley.models.evaluation.onsets import audio_onsets, onset_envelope
from livefoley.models.evaluation.stereo import ild_series

log = logging.getLogger(__name__)

# key, label, better ("higher"/"lower"/"closer to 0")
METRICS: tuple[tuple[str, str, str], ...] = (
    ("onset_f", "onset F-measure (50 ms)", "higher"),
    ("onset_precision", "onset precision", "higher"),
    ("onset_recall", "onset recall", "higher"),
    ("abs_lag_ms", "abs onset-envelope lag (ms)", "lower"),
    ("lag_peak_corr", "onset-envelope peak correlation", "higher"),
    ("mr_stft", "MR-STFT distance", "lower"),
    ("log_mel_l1", "log-mel L1", "lower"),
    ("ild_corr", "ILD correlation over time", "higher"),
    ("fd_aisfx", "Fréchet distance (aisfx)", "lower"),
)


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, int):
        return str(v)
    return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"


def markdown_table(summary: dict[str, dict[str, float]], systems: list[str]) -> str:
    """One row per metric, one column per system; '(ref)' marks the real-audio column."""
    head = "| metric | better | " + " | ".join(
        f"{s} (ref)" if s == "real" else s for s in systems) + " |"
    lines = [head, "|" + "---|" * (len(systems) + 2)]
    for key, label, better in METRICS:
        if not any(key in summary[s] for s in systems):
            continue
        lines.append(f"| {label} | {better} | "
                     + " | ".join(_fmt(summary[s].get(key)) for s in systems) + " |")
    lines.append("| clips with a defined lag / ILD corr. | | " + " | ".join(
        f"{summary[s]['lag_defined']} / {summary[s]['ild_defined']}" for s in systems) + " |")
    if all("onsets_emitted" in summary[s] for s in systems):  # runs before 2026-12-04 lack it
        lines.append("| onsets emitted / real (recall's other side) | | " + " | ".join(
            f"{summary[s]['onsets_emitted']} / {summary[s]['onsets_real']}" for s in systems) + " |")
    return "\n".join(lines)


def write_report(out: Path, results: dict[str, Any], clips: list[dict[str, Any]],
                 systems: dict[str, list[np.ndarray]], sr: int) -> Path:
    """Write report.md and its plots into `out`; return the report's path."""
    names = list(results["systems"])
    summary = results["summary"]
    plots = results["config"].get("plots", True)
    if plots:
        _plot_metrics(out / "metrics.png", summary, names)
        _plot_envelopes(out / "envelopes.png", clips[0], {k: v[0] for k, v in systems.items()},
                        sr)
        _plot_ild(out / "ild.png", {k: v[0] for k, v in systems.items()}, sr)
    model = results.get("model_name")
    lines = [
        "# LiveFoley evaluation",
        "",
        f"Data: `{results['data_root']}`; {len(clips)} held-out clips"
        + (f" (the first {len(clips)} of {results['heldout_available']}: --max-episodes)"
           if results.get("heldout_available", len(clips)) > len(clips) else "") + " "
        f"({sum(e['seconds'] for e in results['episodes']):.0f} s, maps unseen in training: "
        + ", ".join(sorted({str(e['scenario']) for e in results['episodes']})) + f"); "
        f"retrieval index: {results['train_shards']} training shards; {sr} Hz.",
        "",
        f"Model: {model or '(none: baselines only)'}"
        + (f" — {results['model_info']}" if results.get("model_info") else ""),
        "",
        "Onset scores are micro-averaged over clips (summed matches over summed onsets); other "
        "metrics are means over clips (lag and ILD correlation over clips where they are "
        "defined: silence has no lag, mono or constant ILD has no correlation). The `real` "
        "column scores the real audio against itself: the ideal values. `shuffled` is the real "
        "held-out audio in another order, so its pooled Fréchet distance is near 0 by "
        "construction: it is the bar for sync (onset F, lag), silence the bar for quality."
        + (f" The baselines' and the real audio's scores were read from `{results['baseline_cache']['path']}` "
           "(scored by an earlier run on these clips with these settings and this code)."
           if (results.get("baseline_cache") or {}).get("hit") else ""),
        "",
        markdown_table(summary, names),
        "",
    ]
    if plots:
        lines += ["![metrics](metrics.png)", "", "![onset envelopes of the first clip]"
                  "(envelopes.png)", "", "![ILD over time, first clip](ild.png)", ""]
    lines += [
        "## Per clip",
        "",
        "| clip | scenario | system | onsets ref/est/matched | lag ms | MR-STFT | log-mel L1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(clips):
        for s in names:
            e = results["per_episode"][s][i]
            lines.append(f"| {c['name']} | {c['scenario']} | {s} | {e['onset_n_ref']}/"
                         f"{e['onset_n_est']}/{e['onset_matches']} | {_fmt(e['lag_ms'])} | "
                         f"{_fmt(e['mr_stft'])} | {_fmt(e['log_mel_l1'])} |")
    ex = sorted(p.name for p in (out / "examples").glob("*.mp4"))
    if ex:
        lines += ["", "## Listening examples", ""] + [f"- [examples/{n}](examples/{n})" for n in ex]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_examples(out: Path, clips: list[dict[str, Any]], systems: dict[str, list[np.ndarray]],
                   sr: int, cfg: Any) -> list[Path]:
    """mp4 examples: the first `cfg.examples` clips, each with every non-silent system."""
    paths = []
    for i, c in enumerate(clips[: cfg.examples]):
        n = int(min(cfg.example_seconds, len(c["real"]) / sr) * sr)
        n_frames = min(len(c["frames"]), int(n / sr * c["fps"]))
        for name, audios in systems.items():
            if name == "silence":
                continue
            p = out / "examples" / f"{c['name']}-{name}.mp4"
            paths.append(write_mp4(p, c["frames"][:n_frames], c["fps"], audios[i][:n], sr))
    return paths


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_metrics(path: Path, summary: dict[str, dict[str, float]], names: list[str]) -> None:
    plt = _plt()
    keys = [m for m in METRICS if any(m[0] in summary[s] for s in names)]
    cols = 3
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows))
    for ax, (key, label, better) in zip(np.ravel(axes), keys, strict=False):
        vals = [summary[s].get(key, float("nan")) for s in names]
        ax.bar(names, [0 if v is None or math.isnan(v) else v for v in vals],
               color=["tab:gray" if s == "real" else "tab:blue" for s in names])
        ax.set_title(f"{label} ({better})", fontsize=9)
        ax.tick_params(axis="x", labelsize=7, rotation=30)
    for ax in np.ravel(axes)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_envelopes(path: Path, clip: dict[str, Any], audio: dict[str, np.ndarray],
                    sr: int, seconds: float = 6.0) -> None:
    plt = _plt()
    shown = [k for k in audio if k != "silence"]
    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 1.6 * len(shown)), sharex=True)
    hop = int(round(sr * 0.005))
    ref = audio_onsets(audio["real"], sr)
    for ax, name in zip(np.atleast_1d(axes), shown, strict=True):
        x = audio[name][: int(seconds * sr)]
        env = onset_envelope(x, sr, hop_samples=hop)
        ax.plot(np.arange(len(env)) * hop / sr, env, lw=0.8)
        for t in ref[ref < seconds]:
            ax.axvline(t, color="tab:red", lw=0.5, alpha=0.6)
        ax.set_ylabel(name, fontsize=8)
    np.atleast_1d(axes)[-1].set_xlabel(f"time (s), {clip['name']}; red: real onsets")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_ild(path: Path, audio: dict[str, np.ndarray], sr: int) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 2.5))
    for name, x in audio.items():
        if name in ("silence", "shuffled"):
            continue
        ild, _ = ild_series(x, sr)
        ax.plot(np.arange(len(ild)) * 0.01, ild, lw=0.8, label=name)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("ILD (dB)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
