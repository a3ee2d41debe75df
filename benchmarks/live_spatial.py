"""Live spatial run (issue 9): a Python host (2-channel session) and `livefoley serve --model
spatial_tiny`, binaural via `ctl configure`, frames at 30 fps with a turning head, audio read at
48 kHz / 256 frames, a `ctl prompt` at 5 s; 15 s. Prints the sidecar's layouts, prompt state,
latencies and underruns; the report goes to runs/live_spatial/report.json. Not a test.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/live_spatial.py
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
from livefoley.engine_bindings.host import Host, AudioCadenceReader
os.makedirs("runs/live_spatial", exist_ok=True)
host = Host(channels=2, frame_mode="latest", max_width_px=128, max_height_px=64)
host.spawn_sidecar(model="spatial_tiny", log_path="runs/live_spatial/sidecar.log", report_path="runs/live_spatial/report.json")
frame = np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)
host.publish(frame)
host.await_sidecar(120, primed_frames=3200)
ctl = [sys.executable, "-m", "livefoley.sidecar.cli", "ctl", "--session", host.name, "--json", "--timeout", "20"]
print(subprocess.run(ctl + ["configure", "channel_layout=binaural"], capture_output=True, text=True).stdout.strip()[:200])
reader = AudioCadenceReader(host.session, block_frames=256).start()
t0 = time.monotonic(); k = 0; yaw = 0.0; prompted = False
while time.monotonic() - t0 < 15:
    yaw += 0.03
    host.publish(frame, orientation=(yaw, 0.0, 0.0))
    if not prompted and time.monotonic() - t0 > 5:
        prompted = True
        r = subprocess.run(ctl + ["prompt", "a door slams behind, to the left"], capture_output=True, text=True)
        print("PROMPT", r.stdout.strip())
    k += 1
    time.sleep(max(0.0, t0 + k / 30 - time.monotonic()))
reader.stop()
st = json.loads(subprocess.run(ctl + ["status"], capture_output=True, text=True).stdout)
print(json.dumps({k: st[k] for k in ("steps", "layouts", "prompt")}))
print("latency", {k: st["latency_ms"][k] for k in ("spatial", "total") if k in st["latency_ms"]})
print("sessions", {k: st["sessions"][0][k] for k in ("underrun_events", "underrun_frames", "frames_dropped")})
host.close()
