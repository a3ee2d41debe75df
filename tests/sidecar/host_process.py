"""A host in its own process, for fault tests: creates a session, spawns a sidecar, publishes
frames at a fixed rate, reads audio at a device cadence, and prints what happens.

Lines on stdout: `SESSION name`, `SIDECAR pid`, `READY`, then `STATUS <json>` every 0.25 s.
Runs until killed (or --seconds), then prints `DONE <json>`.
"""

import argparse
import json
import sys
import time

import numpy as np

from livefoley.engine_bindings.host import Host


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--fps", type=float, default=35.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--sidecar-log", required=True)
    p.add_argument("--report", default=None)
    a = p.parse_args()
    host = Host(frame_mode="latest", max_width_px=64, max_height_px=48)
    print(f"SESSION {host.name}", flush=True)
    host.spawn_sidecar(model="tiny", log_path=a.sidecar_log, report_path=a.report, no_control=True)
    print(f"SIDECAR {host.sidecar.pid}", flush=True)
    host.publish(np.zeros((48, 64, 3), np.uint8))
    host.await_sidecar(120, primed_frames=3200)
    reader = host.start_reader()
    print("READY", flush=True)
    t0 = time.monotonic()
    k = 0
    next_status = 0.0
    while time.monotonic() - t0 < a.seconds:
        due = t0 + k / a.fps
        time.sleep(max(0.0, due - time.monotonic()))
        host.publish(np.full((48, 64, 3), k % 255, np.uint8), frame_index=k + 1)
        k += 1
        if time.monotonic() >= next_status:
            next_status = time.monotonic() + 0.25
            c = host.counters()
            print("STATUS " + json.dumps({"t": time.monotonic(), "write": c["audio_write_count"],
                                          "fill": c["audio_fill_frames"], "callbacks": reader.callbacks}), flush=True)
    reader.stop()
    print("DONE " + json.dumps(host.counters()), flush=True)
    host.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
