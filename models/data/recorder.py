"""Record one ViZDoom run: frames, the game's own stereo audio, actions, per tic.

What it is: `record(spec)` plays a built-in scenario or a Freedoom map headless with a scripted
agent and returns every tic's RGB frame (uint8 H, W, 3), the 1260 stereo int16 samples that
the game mixed during that tic (44.1 kHz, audio buffer size 1), the action taken, and where
game episodes restarted (a finished episode, a death, or a scenario timeout starts a new one
inside the same recording, like a level restart in a game).

Alignment (measured, see README): the audio buffer returned with the state of tic k holds the
sound mixed during tic k; a shot whose muzzle flash first shows in frame k starts within the
first 1 ms of block k. So audio sample 0 and frame 0 share time 0 and no offset is applied.

What it is not: a dataset writer (see `shards.py`, `generate.py`).

Two environment facts are enforced here: ViZDoom needs `libopenal.so.1` (Debian
`libopenal1`), without which every audio buffer is silently all zeros, and OpenAL 1.19 aborts
the game unless `+snd_efx 0` is passed.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import os
import time

import numpy as np

from livefoley.models.data.agents import ScriptedAgent
from livefoley.protocol.errors import ConfigError, SessionError

log = logging.getLogger(__name__)

GAME_FPS = 35  # Doom tics per second
GAME_SAMPLE_RATE_HZ = 44100
SAMPLES_PER_TIC = GAME_SAMPLE_RATE_HZ // GAME_FPS  # 1260
# With OpenAL the mixer's output never is exactly zero: a quiet scene dithers at +-1 LSB
# (measured: my_way_home, peak 1 for 350 tics). A sound peaks far above this.
SOUND_PEAK = 64  # int16 LSB (-54 dBFS): above this a tic holds an audible sound
OPENAL_FIX = "install OpenAL: `apt-get install -y libopenal1` (ViZDoom dlopens libopenal.so.1)"


@dataclasses.dataclass(frozen=True)
class RecordSpec:
    """What to record. `scenario` is a config stem ("basic") or "freedoom2:MAP07"."""

    scenario: str = "defend_the_center"
    seed: int = 0  # game seed; the agent seed is derived from it
    agent: str = "aggressive"  # one of agents.AGENT_KINDS
    n_tics: int = 350  # tics to record (35 per second)
    resolution: str = "160x120"  # WxH, one of ViZDoom's ScreenResolution values
    skill: int = 0  # 1..5 overrides the config's doom_skill; 0 keeps it

    def __post_init__(self) -> None:
        if self.n_tics < 1:
            raise ConfigError(f"RecordSpec.n_tics: expected >= 1, found {self.n_tics}")
        if not 0 <= self.skill <= 5:
            raise ConfigError(f"RecordSpec.skill: expected 0..5, found {self.skill}")

    @property
    def config_name(self) -> str:
        return self.scenario.split(":", 1)[0]

    @property
    def map_name(self) -> str | None:
        parts = self.scenario.split(":", 1)
        return parts[1] if len(parts) == 2 else None


@dataclasses.dataclass
class Recording:
    """One recorded run. Arrays are indexed by tic (frames, actions) or sample (audio)."""

    spec: RecordSpec
    frames: np.ndarray  # (T, H, W, 3) uint8
    audio: np.ndarray  # (T * 1260, 2) int16 at 44.1 kHz
    actions: np.ndarray  # (T, n_buttons) float32
    button_names: list[str]
    episode_starts: list[int]  # tic indices where a game episode (re)started
    wall_s: float  # time spent playing

    @property
    def n_tics(self) -> int:
        return int(self.frames.shape[0])

    @property
    def peak(self) -> int:
        """Largest absolute int16 sample: 0 means no audio backend, <= SOUND_PEAK quiet."""
        return int(np.abs(self.audio.astype(np.int32)).max()) if self.audio.size else 0

    @property
    def silent(self) -> bool:
        """True when nothing audible happened (the game may still have been dithering)."""
        return self.peak <= SOUND_PEAK


def openal_available() -> bool:
    """True when `libopenal.so.1` can be loaded (ViZDoom's sound needs it)."""
    try:
        ctypes.CDLL("libopenal.so.1")
    except OSError:
        return False
    return True


def _resolution(vzd, resolution: str):
    name = "RES_" + resolution.upper()
    if not hasattr(vzd.ScreenResolution, name):
        valid = sorted(n[4:].lower() for n in dir(vzd.ScreenResolution) if n.startswith("RES_"))
        raise ConfigError(f"resolution: expected one of {valid}, found {resolution!r}")
    return getattr(vzd.ScreenResolution, name)


def make_game(spec: RecordSpec):
    """Build and init a headless DoomGame for `spec` (audio on, RGB24, PLAYER mode).

    Raises:
        ConfigError: unknown scenario or resolution.
        SessionError: the game fails to start.
    """
    import vizdoom as vzd

    cfg = os.path.join(vzd.scenarios_path, spec.config_name + ".cfg")
    if not os.path.exists(cfg):
        valid = sorted(f[:-4] for f in os.listdir(vzd.scenarios_path) if f.endswith(".cfg"))
        raise ConfigError(f"scenario {spec.scenario!r}: expected a config in {valid}, "
                          f"found no {spec.config_name}.cfg")
    game = vzd.DoomGame()
    game.load_config(cfg)
    if spec.map_name:
        game.set_doom_map(spec.map_name)
    if spec.skill:
        game.set_doom_skill(spec.skill)
    game.set_window_visible(False)
    game.set_mode(vzd.Mode.PLAYER)
    game.set_screen_resolution(_resolution(vzd, spec.resolution))
    game.set_screen_format(vzd.ScreenFormat.RGB24)
    game.set_automap_buffer_enabled(False)
    game.set_depth_buffer_enabled(False)
    game.set_labels_buffer_enabled(False)
    game.set_audio_buffer_enabled(True)
    game.set_audio_sampling_rate(vzd.SamplingRate.SR_44100)
    game.set_audio_buffer_size(1)
    game.add_game_args("+snd_efx 0")  # OpenAL 1.19.1 aborts in BiquadFilter otherwise
    game.set_episode_timeout(0)  # the recorder decides the length; 0 = no timeout
    game.set_seed(int(spec.seed) % (2**31))
    try:
        game.init()
    except Exception as exc:  # vizdoom raises its own exception types
        raise SessionError(f"ViZDoom scenario {spec.scenario!r}: expected the game to start, "
                           f"found {type(exc).__name__}: {exc}") from exc
    return game


def record(spec: RecordSpec) -> Recording:
    """Play `spec` and return the recording.

    Raises:
        ConfigError: unknown scenario, map, resolution or agent.
        SessionError: the game fails, or returns audio of the wrong shape.

    Thread-safety: one call per thread; each call owns its game.
    """
    game = make_game(spec)
    try:
        names = [b.name for b in game.get_available_buttons()]
        agent = ScriptedAgent(spec.agent, names, seed=(int(spec.seed) * 7919 + 17) % (2**32))
        h, w = game.get_screen_height(), game.get_screen_width()
        frames = np.empty((spec.n_tics, h, w, 3), np.uint8)
        audio = np.empty((spec.n_tics * SAMPLES_PER_TIC, 2), np.int16)
        actions = np.zeros((spec.n_tics, len(names)), np.float32)
        starts: list[int] = []
        t0 = time.perf_counter()
        game.new_episode()
        starts.append(0)
        for k in range(spec.n_tics):
            if game.is_episode_finished() or game.is_player_dead():
                game.new_episode()
                starts.append(k)
            state = game.get_state()
            buf = state.audio_buffer
            if buf is None or buf.shape != (SAMPLES_PER_TIC, 2):
                found = None if buf is None else buf.shape
                raise SessionError(f"{spec.scenario} tic {k}: expected an audio buffer of shape "
                                   f"({SAMPLES_PER_TIC}, 2), found {found}")
            frames[k] = state.screen_buffer
            audio[k * SAMPLES_PER_TIC:(k + 1) * SAMPLES_PER_TIC] = buf
            a = agent.act()
            actions[k] = a
            game.make_action(a)
        wall = time.perf_counter() - t0
    finally:
        game.close()
    rec = Recording(spec, frames, audio, actions, names, starts, wall)
    log.debug("recorded %s seed %d: %d tics in %.2f s", spec.scenario, spec.seed, rec.n_tics, wall)
    return rec


_BACKEND_CHECKED = False


def check_audio_backend(scenario: str = "basic", n_tics: int = 20) -> None:
    """Fail loudly when ViZDoom's audio is silent: fire the weapon at tic 0, expect sound.

    The check is deterministic (in `basic` a pistol shot at tic 0 is heard within 20 tics);
    with the defaults it runs once per process.

    Args:
        scenario: where to fire (a scenario without a weapon, such as `my_way_home`, shows
            what a missing OpenAL looks like: all-zero audio).
        n_tics: how long to listen.

    Raises:
        SessionError: the test shot produced all-zero audio; the message names the fix.
    """
    global _BACKEND_CHECKED
    default = (scenario, n_tics) == ("basic", 20)
    if default and _BACKEND_CHECKED:
        return
    import vizdoom as vzd

    spec = RecordSpec(scenario=scenario, seed=1, agent="random", n_tics=n_tics)
    game = make_game(spec)
    try:
        names = [b.name for b in game.get_available_buttons()]
        game.new_episode()
        peak = 0
        for k in range(spec.n_tics):
            buf = game.get_state().audio_buffer
            peak = max(peak, int(np.abs(buf.astype(np.int32)).max()))
            a = [0.0] * len(names)
            if k == 0 and "ATTACK" in names:
                a[names.index("ATTACK")] = 1.0
            game.make_action(a)
    finally:
        game.close()
    if peak <= SOUND_PEAK:
        lib = "found" if openal_available() else "NOT found"
        raise SessionError(
            f"ViZDoom audio self-test ({scenario}, a shot at tic 0): expected a sound within "
            f"{spec.n_tics} tics (int16 peak > {SOUND_PEAK}), found peak {peak} (libopenal.so.1 {lib}, vizdoom "
            f"{vzd.__version__}); fix: {OPENAL_FIX}")
    if default:
        _BACKEND_CHECKED = True
