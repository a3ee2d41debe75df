"""ViZDoom as a live game for the demo: a built-in scenario, headless, with a simple agent.

What it is: one `DoomRun` that steps the game one tic at a time and returns the tic's
screen (uint8 RGB, H x W x 3) and the game's own stereo audio for that tic (int16 at
44.1 kHz; 1260 frames per tic at 35 tics/s). Pacing to real time is the caller's job
(`sidecar/demo.py`), so the same harness also runs faster than real time in tests.

What it is not: a training-data generator (that is models' data pipeline) or an agent
worth studying: the agent sweeps left and right and fires in bursts, which is enough to
make shots, monsters and movement happen on screen and in the sound.

ViZDoom needs Debian's libopenal1 for its own audio (without it the audio is silently zero)
and the game argument `+snd_efx 0` to avoid openal-soft 1.19.1's filter assertion
(shared/reference/environment.md §2a).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from livefoley.protocol.errors import ConfigError, DeviceError

log = logging.getLogger(__name__)

TICS_PER_SECOND = 35
GAME_SAMPLE_RATE_HZ = 44100
SCENARIOS = ("defend_the_center", "basic", "deathmatch", "defend_the_line", "health_gathering")


@dataclass(frozen=True)
class DoomConfig:
    """Which scenario, at what size, with which seed."""

    scenario: str = "defend_the_center"
    width_px: int = 320
    height_px: int = 240
    seed: int = 0

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ConfigError(f"DoomConfig.scenario: expected one of {SCENARIOS}, found {self.scenario!r}")
        if (self.width_px, self.height_px) not in ((320, 240), (640, 480)):
            raise ConfigError(
                f"DoomConfig size: expected 320x240 or 640x480, found {self.width_px}x{self.height_px}"
            )


class SweepAgent:
    """Turns one way for a while, then the other, and fires in bursts. Deterministic per seed."""

    def __init__(self, buttons: list, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        names = [str(b).split(".")[-1].split(":")[0] for b in buttons]
        self._index = {name: i for i, name in enumerate(names)}
        self._n = len(buttons)
        self._tic = 0
        self._turn = "TURN_LEFT"
        self._turn_left_tics = int(self._rng.integers(20, 70))

    def act(self) -> list[int]:
        action = [0] * self._n
        self._tic += 1
        self._turn_left_tics -= 1
        if self._turn_left_tics <= 0:
            self._turn = "TURN_RIGHT" if self._turn == "TURN_LEFT" else "TURN_LEFT"
            self._turn_left_tics = int(self._rng.integers(20, 70))
        for name in (self._turn, "MOVE_LEFT" if self._turn == "TURN_LEFT" else "MOVE_RIGHT"):
            if name in self._index:
                action[self._index[name]] = 1
        if "ATTACK" in self._index and (self._tic % 12) < 3:
            action[self._index["ATTACK"]] = 1
        if "MOVE_FORWARD" in self._index and (self._tic // 35) % 2 == 0:
            action[self._index["MOVE_FORWARD"]] = 1
        return action


class DoomRun:
    """One headless ViZDoom game stepped a tic at a time.

    Thread-safety: one thread. Real-time safe: no (this is the game).

    Raises:
        DeviceError: ViZDoom is not installed or cannot start.
    """

    def __init__(self, config: DoomConfig = DoomConfig()) -> None:
        try:
            import vizdoom as vzd
        except ImportError as exc:
            raise DeviceError(f"ViZDoom: expected the 'vizdoom' package (pip install vizdoom), found {exc}") from exc
        self.config = config
        game = vzd.DoomGame()
        game.load_config(os.path.join(vzd.scenarios_path, f"{config.scenario}.cfg"))
        game.set_window_visible(False)
        game.set_mode(vzd.Mode.PLAYER)
        res = {(320, 240): vzd.ScreenResolution.RES_320X240, (640, 480): vzd.ScreenResolution.RES_640X480}
        game.set_screen_resolution(res[(config.width_px, config.height_px)])
        game.set_screen_format(vzd.ScreenFormat.RGB24)
        game.set_render_hud(True)
        game.set_audio_buffer_enabled(True)
        game.set_audio_sampling_rate(vzd.SamplingRate.SR_44100)
        game.set_audio_buffer_size(1)
        game.add_game_args("+snd_efx 0")
        game.set_episode_timeout(0)
        game.set_seed(config.seed)
        try:
            game.init()
        except Exception as exc:  # ViZDoom raises its own exception types
            raise DeviceError(f"ViZDoom {config.scenario}: expected the game to start, found {exc}") from exc
        self._game = game
        self._agent = SweepAgent(game.get_available_buttons(), config.seed)
        self.samples_per_tic = GAME_SAMPLE_RATE_HZ // TICS_PER_SECOND
        self.tics = 0
        self.episodes = 1
        log.info("ViZDoom %s started at %dx%d", config.scenario, config.width_px, config.height_px)

    def step(self) -> tuple[np.ndarray, np.ndarray]:
        """Advance one tic.

        Returns:
            (frame, audio): frame uint8 (H, W, 3) RGB after the tic; audio int16
            (1260, 2) of the tic's game sound (zeros when the episode restarted).
        """
        game = self._game
        if game.is_episode_finished():
            game.new_episode()
            self.episodes += 1
        game.make_action(self._agent.act())
        self.tics += 1
        if game.is_episode_finished():
            game.new_episode()
            self.episodes += 1
        state = game.get_state()
        frame = np.ascontiguousarray(state.screen_buffer)  # (H, W, 3) uint8
        audio = state.audio_buffer
        if audio is None or audio.shape != (self.samples_per_tic, 2):
            audio = np.zeros((self.samples_per_tic, 2), dtype=np.int16)
        return frame, np.asarray(audio, dtype=np.int16)

    def close(self) -> None:
        self._game.close()

    def __enter__(self) -> "DoomRun":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
