"""livefoley.models.data: ViZDoom recordings, sharded datasets, training windows, timing."""

from livefoley.models.data.timing import (
    frame_index_for_tick,
    frame_indices_for_ticks,
    frame_timestamps_ns,
    tick_time_ns,
)

__all__ = ["frame_index_for_tick", "frame_indices_for_ticks", "frame_timestamps_ns",
           "tick_time_ns"]
