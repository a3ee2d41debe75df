"""livefoley.sidecar.bench: `livefoley bench`, the frame-budget benchmark (see README.md)."""

from .cli import add_arguments, main
from .runner import RunSpec, measure_run
from .stats import compare_reports, summarize_ms, verdict

__all__ = ["add_arguments", "main", "RunSpec", "measure_run", "compare_reports", "summarize_ms",
           "verdict"]
