#!/usr/bin/env bash
# One lent-GPU call, prepared ahead because device time is short (15 minutes a session):
#   1. install the carried wheels (.whl/) and build livefoley into /tmp/lf;
#   2. record Doom data with ViZDoom on the machine's cores (OpenAL from the carried .debs/),
#      while `pytest -m gpu` runs the CUDA tests on the otherwise idle GPU;
#   3. train the tiny model's VAE, stage 1 and stage 2 on the GPU, each fitted to its minutes;
#   4. with the time left, `livefoley bench` of the sr preset (bf16, NFE 1 and 4, guidance on);
#   5. pack everything a model card and benchmarks/RESULTS.md need into $OUT.
# Prepare here (see /work/.library/device/README.md): .whl/ holds cp312 wheels of vizdoom,
# pyzmq, cffi and pycparser; .debs/ holds libopenal1, libopenal-data, libsndio7.0, libasound2,
# libasound2-data, libbsd0, libmd0. Run: `bash tools/gpu_session.sh` with carry [".whl", ".debs"].
# Every stage is bounded, and a stage that fails leaves its time to the next.
# First run (2026-12-04, H200): 456 s; data 58 s, VAE 80 s, stage 1 179 s, stage 2 64 s, bench 19 s
# (benchmarks/RESULTS.md, models/weights/MODEL_CARD.md). With BENCH=0 S1_MIN=4 the stages get it all.
# Second run (2026-12-04, later): VAE_FROM=<the first run's VAE, saved VAE-only> CANDIDATES="a b" with
# S1_ARGS_b="--batch 128 --lr 1e-3", BENCH=0 S1_MIN=5.5 S2_MIN=1.5: 519 s (benchmarks/RESULTS.md).
# Next (prepared 2026-12-05): continue the recorded chain a's stage 1, then ECT and the onset decoder:
#   S1_FROM=a-stage1.safetensors CANDIDATES=a S1_ARGS_a="--lr 4e-4 --warmup 100" BENCH=0 GPU_TESTS=0 \
#   S1_MIN=5 S2_MIN=1.3 DEC_MIN=1 GEN_S=50
# (carry a-stage1.safetensors, 14.6 MB, beside the wheels; evaluate on val24 here, then doom-test4).
# Since 2026-12-05 (third session) also S2_ARGS_a="--rollout-passes 4 --rollout-prob 1": ECT on the
# model's own rollouts (on CPU it cut the recorded generator's MR-STFT 2.97 -> 2.77, not its onset F).
# 2026-12-05 (fourth session): the shipped file's latent space is not why its generator is better
# (a fresh generator in it scored worse than one in a's space; model card): the plan above stays.
# 2026-12-05 (fifth session): 40,000 more CPU stage-1 steps on the 64 doom-v1 episodes memorised
# them (held-out error rose from step 2,000 on) and stayed below the shipped file: give a GPU run more data.
# 2026-12-05 (sixth session): a-stage1.safetensors is gone (run folders do not survive a new checkout),
# so the call above cannot run as written. On CPU every part retrained from scratch on 512 episodes
# (prev-noise 0.5 in both stages) gave the best recorded model yet, short of the shipped one only on
# onset recall (model card). The GPU equivalent, from scratch: CANDIDATES=a BENCH=0 GPU_TESTS=0
#   S1_ARGS_a="--prev-noise 0.5 --lr 5e-4 --warmup 100" S2_ARGS_a="--prev-noise 0.5" (not rehearsed).
# Rehearsed on this CPU with those switches (WHEELS=/none DEV=cpu BUDGET=400 GEN_S=25 EPISODES=4,
# batch 8, 0.6/0.4/0.4 min): stage 1 continued, ECT, onset decoder; a-stage2 and a-dec packed, 129 s.
# 2026-12-05 (eleventh session): rehearsed again at that day's HEAD, 214 s on the 2-core CPU, with
#   WHEELS=/none DEV=cpu BUDGET=300 GEN_S=25 EPISODES=4 WORKERS=2 VAE_MIN=0.4 S1_MIN=0.6 S2_MIN=0.4
#   DEC_MIN=0.3 BENCH=0 GPU_TESTS=0 CANDIDATES=a S1_ARGS_a="--prev-noise 1.0 --batch 8"
#   S2_ARGS_a="--prev-noise 1.0 --batch 8": VAE, stage 1, stage 2, onset decoder, a-stage2 and a-dec packed.
# The best recorded CPU generator since is noise 1.0 in both stages (P10), sampled with
# `livefoley model FILE --set-noise-correlation 1 --set-feedback-noise 0.5` (val24 onset F 0.584 vs the
# shipped 0.635; model card): on a GPU, CANDIDATES=a BENCH=0 GPU_TESTS=0 DEC_MIN=1
#   S1_ARGS_a="--prev-noise 1.0 --lr 5e-4 --warmup 100" S2_ARGS_a="--prev-noise 1.0", then the gate here.
# Rehearse on CPU: DEV=cpu BUDGET=200 GEN_S=20 EPISODES=4 VAE_MIN=0.3 S1_MIN=0.5 S2_MIN=0.3 ...
# 2026-12-06 (twelfth session): new, untried at scale: `--prev-shrink 0.5` (fed-back latents pulled
# toward silence, models/training/README.md). With two candidates on the GPU, the plain P10 recipe as
# a and the same with S1_ARGS_b="--prev-noise 1.0 --prev-shrink 0.5 --lr 5e-4 --warmup 100"
# S2_ARGS_b="--prev-noise 1.0 --prev-shrink 0.5" as b (CANDIDATES="a b") answers whether it adds onsets.
# 2026-12-06 (thirteenth session): tried on CPU, all recorded: it adds onsets (1,838 vs v14's 1,306 on val24,
# onset F 0.607) but is worse on MR-STFT and FD; fails the gate (model card).
# 2026-12-06 (fourteenth): the shrink in stage 2 costs MR-STFT/FD, in stage 1 it seems cheaper; on a GPU try
# S1_ARGS_b="--prev-noise 1.0 --prev-shrink 1.0 --lr 5e-4 --warmup 100" with S2_ARGS_b="--prev-noise 1.0 --prev-shrink 0.5" (rule v37, on CPU in runs/s14-s1).
# 2026-12-06 (fifteenth): v37 on CPU failed (more onsets, worse placed: onset F 0.548); keep stage 1 at 0.5.
# New: --ema-halflife H (exports a weight average; v38 tries 200 in stage 2 on CPU, model card).
# 2026-12-06 (sixteenth): EMA (500 in stage 1, 200 in stage 2) gives the best recorded onset F (0.613)
# and still fails on recall; a GPU run should use --window 72 (longer than tiny's 64-frame KV window;
# the stages now warn below it) with the batch scaled down to keep ticks per step, e.g. --window 72 --batch 28.
# 2026-12-06 (seventeenth): three seeds of the E5 recipe on CPU span 0.019 onset F and 0.017 recall (best 0.629,
# within noise of the shipped 0.635; recall 0.575 against 0.665): more seeds will not close the recall gap, so give
# a GPU run's second candidate a different recipe, not a different seed.
# Rehearsed at that session's HEAD on the 2-core CPU in 198 s (VAE, stage 1, stage 2, onset decoder; a-stage2
# and a-dec packed) with PATH=.venv/bin:$PATH WHEELS=/none DEV=cpu BUDGET=300 GEN_S=25 EPISODES=4 WORKERS=2 VAE_MIN=0.4 S1_MIN=0.6
# S2_MIN=0.4 DEC_MIN=0.3 BENCH=0 GPU_TESTS=0 CANDIDATES=a and the switches below at --batch 4. The next lent GPU:
#   CANDIDATES="a b" BENCH=0 GPU_TESTS=0 DEC_MIN=1
#   S1_ARGS_a="--prev-noise 1.0 --prev-shrink 0.5 --ema-halflife 500 --window 72 --batch 28 --lr 5e-4 --warmup 100"
#   S2_ARGS_a="--prev-noise 1.0 --prev-shrink 0.5 --ema-halflife 200 --window 72 --batch 28"
#   S1_ARGS_b="--prev-noise 1.0 --window 72 --batch 28 --lr 5e-4 --warmup 100" S2_ARGS_b="--prev-noise 1.0 --window 72 --batch 28"
# then val24 and the gate here (models/weights/MODEL_CARD.md, "Every recorded candidate ...").
set -u
T0=$(date +%s)
BUDGET=${BUDGET:-580}      # seconds for the whole script (the call's limit is 600)
DEV=${DEV:-cuda}
GEN_S=${GEN_S:-55}         # seconds of recording (whatever shards complete are used)
EPISODES=${EPISODES:-512}  # training episodes planned (seed 0: the held-out 8 are doom-v1's)
WORKERS=${WORKERS:-12}
VAE_MIN=${VAE_MIN:-1.4}
S1_MIN=${S1_MIN:-3.2}
S2_MIN=${S2_MIN:-1.3}
GPU_TESTS=${GPU_TESTS:-1}  # 0: skip pytest -m gpu (its time goes nowhere: it runs beside the recording)
BENCH=${BENCH:-1}          # 0: skip the sr bench and give its time to the three stages
CANDIDATES=${CANDIDATES:-g}  # generator runs trained side by side (see S1_ARGS_NAME below)
VAE_FROM=${VAE_FROM:-}     # a checkpoint whose trained VAE is kept: no VAE stage
S1_FROM=${S1_FROM:-}       # a whole checkpoint whose stage 1 continues (its VAE kept): no VAE stage
DEC_MIN=${DEC_MIN:-0}      # > 0: then the onset decoder (train vae --decoder-only --onset-weight 1)
OUT=${OUT:-/tmp/gpu-session-out}
R=${RUNS:-/tmp/runs}
D=${DATA:-/tmp/doom}
mkdir -p "$OUT" "$R"
exec > >(tee "$OUT/session.log") 2>&1
elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( BUDGET - $(elapsed) )); }
say() { echo "[$(elapsed) s] $*"; }
export PYTHONUNBUFFERED=1 TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1
# $OUT holds at most 8 files of 16 MiB (64 MiB in all): two models per candidate (14.6 MB each),
# session.log, pytest-gpu.log and runs.tgz (logs and curves): at most two candidates.
pack() {  # what the model card and RESULTS.md need, after every stage (a killed call keeps it)
  KEEP="stage1 stage2"; [ "$DEC_MIN" != 0 ] && KEEP="stage2 dec"  # at most two models each
  for c in $CANDIDATES; do for s in $KEEP; do
    [ -f "$R/$c-$s/model.safetensors" ] && cp "$R/$c-$s/model.safetensors" "$OUT/$c-$s.safetensors"
  done; done
  tar -C "$R" --exclude=cache --exclude=state.pt --exclude=model.safetensors -czf "$OUT/runs.tgz" . 2>/dev/null
}

say "setup on $(hostname): $(nproc) cores; $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null)"
WHEELS=${WHEELS:-.whl}
if [ -d "$WHEELS" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
# The source tree as the package (protocol/_native.abi3.so carried from a build here); else build.
mkdir -p /tmp/lf/livefoley
for p in protocol sidecar models engine_bindings; do ln -sfn "$PWD/$p" "/tmp/lf/livefoley/$p"; done
export PYTHONPATH=/tmp/lf${PYTHONPATH:+:$PYTHONPATH}
if ! python3 -c "import livefoley.protocol.native" 2>/dev/null; then
  say "no usable protocol/_native here: building livefoley"
  rm -rf /tmp/lf && python3 -m pip install -q --no-index --no-deps --no-build-isolation \
    --no-compile --target /tmp/lf . || { say "livefoley did not build"; exit 1; }
fi
LF="python3 -m livefoley.sidecar.cli"
python3 -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numpy', numpy.__version__)"
OAL=""
if [ -d .debs ]; then
  mkdir -p /tmp/oal && for f in .debs/*.deb; do dpkg -x "$f" /tmp/oal; done
  OAL=/tmp/oal/usr/lib/x86_64-linux-gnu
fi

say "data: held-out 8, then up to $EPISODES training episodes for $GEN_S s, with pytest -m gpu beside it"
[ "$GPU_TESTS" = 1 ] && ( timeout 75 python3 -m pytest -q -p no:cacheprovider -W default -m gpu $(grep -rl "mark.gpu" tests) \
    > "$OUT/pytest-gpu.log" 2>&1; echo "pytest rc $?" >> "$OUT/pytest-gpu.log" ) &
PYTEST_PID=$!
LD_LIBRARY_PATH=$OAL${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
  $LF data generate --out "$D-heldout" --seed 0 --train-episodes 0 --heldout-episodes 8 --workers 8 | tail -n 2
LD_LIBRARY_PATH=$OAL${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} timeout "$GEN_S" \
  $LF data generate --out "$D" --seed 0 --train-episodes "$EPISODES" --heldout-episodes 8 \
  --workers "$WORKERS" | tail -n 2
cp -al "$D-heldout"/shards/heldout-* "$D/shards/" 2>/dev/null
say "data: $(ls "$D/shards" | grep -c '^train-') training and $(ls "$D/shards" | grep -c '^heldout-') held-out shards; $(du -sh "$D" | cut -f1)"
if [ "$GPU_TESTS" = 1 ]; then wait $PYTEST_PID; tail -n 3 "$OUT/pytest-gpu.log"; fi

COMMON="--data $D --device $DEV --fit-steps --log-every 50 --ckpt-every 2000 --eval-every 2000 --seed 10"
# Candidates train side by side on the one GPU (each is launch-bound, far from filling it);
# candidate NAME adds S1_ARGS_NAME / S2_ARGS_NAME to the shared arguments (later ones win).
N_CAND=$(echo $CANDIDATES | wc -w)
THREADS=$(( $(nproc) / N_CAND ))
if [ -n "$S1_FROM" ]; then
  say "vae: kept from $S1_FROM, whose stage 1 continues (no VAE stage)"
  S1_INIT="--init $S1_FROM"
elif [ -n "$VAE_FROM" ]; then
  say "vae: kept from $VAE_FROM (no VAE stage)"
  S1_INIT="--preset tiny --vae-from $VAE_FROM"
else
  say "vae"
  $LF train vae $COMMON --out "$R/g-vae" --preset tiny --steps 1000000 --batch 32 --lr 1e-3 \
    --warmup 100 --decay-final 0.05 --max-minutes "$VAE_MIN" --prefetch 4 | tail -n 3
  S1_INIT="--init $R/g-vae/model.safetensors"
fi
pack
say "stage 1: $CANDIDATES"
PIDS=""
for c in $CANDIDATES; do
  v="S1_ARGS_$c"
  $LF train stage1 $COMMON --out "$R/$c-stage1" $S1_INIT --steps 1000000 --batch 64 --lr 8e-4 \
    --warmup 200 --decay-final 0.05 --prev-noise 0.5 --max-minutes "$S1_MIN" --prefetch 6 \
    --threads "$THREADS" ${!v:-} > "$R/$c-stage1.log" 2>&1 &
  PIDS="$PIDS $!"
done
wait $PIDS  # by pid: a bare wait would also wait for the log's tee
for c in $CANDIDATES; do tail -n 2 "$R/$c-stage1.log"; done
pack
say "stage 2: $CANDIDATES"
PIDS=""
for c in $CANDIDATES; do
  v="S2_ARGS_$c"
  # stage 2 reads the latents stage 1 wrote (DATA/latents/<encoder digest>/): same encoder
  $LF train stage2 $COMMON --out "$R/$c-stage2" --init "$R/$c-stage1/model.safetensors" \
    --steps 1000000 --batch 64 --lr 2e-4 --warmup 50 --decay-final 0.05 --prev-noise 0.5 \
    --max-minutes "$S2_MIN" --prefetch 6 --threads "$THREADS" ${!v:-} > "$R/$c-stage2.log" 2>&1 &
  PIDS="$PIDS $!"
done
wait $PIDS
for c in $CANDIDATES; do tail -n 2 "$R/$c-stage2.log"; done
pack
if [ "$DEC_MIN" != 0 ]; then
  say "onset decoder: $CANDIDATES"
  PIDS=""
  for c in $CANDIDATES; do
    $LF train vae $COMMON --out "$R/$c-dec" --init "$R/$c-stage2/model.safetensors" --decoder-only \
      --onset-weight 1.0 --steps 1000000 --batch 32 --lr 5e-4 --warmup 50 --decay-final 0.05 \
      --max-minutes "$DEC_MIN" --prefetch 4 --threads "$THREADS" > "$R/$c-dec.log" 2>&1 &
    PIDS="$PIDS $!"
  done
  wait $PIDS
  for c in $CANDIDATES; do tail -n 2 "$R/$c-dec.log"; done
  pack
fi
if [ "$BENCH" = 1 ] && [ "$(left)" -gt 45 ]; then
  say "bench sr ($(left) s left)"
  timeout $(( $(left) - 10 )) $LF bench --model sr --device "$DEV" --precision bf16 --nfe 1 4 \
    --guidance on --seconds 4 --frame-size 854x480 --out "$R/bench-sr" | tail -n 12
fi
pack
ls -la "$OUT"
say "done"
