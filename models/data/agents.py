"""Scripted ViZDoom players for data generation: random, aggressive, explorer.

What it is: small deterministic policies that map a tic number to a button vector. Each holds
a numpy `Generator` seeded from the episode seed, so the same seed gives the same actions
(tested). The scripted ones play "macro-actions" (shoot, advance, turn, strafe, use a door)
held for a random number of tics, which is what makes sound: weapons fire, doors open,
monsters wake up. Pure random button mashing mostly switches weapons and stays silent.

What it is not: a learned agent, and it does not look at the screen.
"""

from __future__ import annotations

import logging

import numpy as np

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

AGENT_KINDS = ("random", "aggressive", "explorer")

# name -> buttons held during the macro. Buttons a scenario lacks are ignored.
_MACROS: dict[str, tuple[str, ...]] = {
    "shoot": ("ATTACK",),
    "shoot_turn_left": ("ATTACK", "TURN_LEFT"),
    "shoot_turn_right": ("ATTACK", "TURN_RIGHT"),
    "advance": ("MOVE_FORWARD",),
    "run": ("MOVE_FORWARD", "SPEED"),
    "back": ("MOVE_BACKWARD",),
    "turn_left": ("TURN_LEFT",),
    "turn_right": ("TURN_RIGHT",),
    "strafe_left": ("MOVE_LEFT",),
    "strafe_right": ("MOVE_RIGHT",),
    "use": ("USE", "MOVE_FORWARD"),
    "idle": (),
    "next_weapon": ("SELECT_NEXT_WEAPON",),
}

# kind -> macro weights (unnormalised)
_WEIGHTS: dict[str, dict[str, float]] = {
    "aggressive": {
        "shoot": 5, "shoot_turn_left": 2, "shoot_turn_right": 2, "advance": 2, "run": 1,
        "turn_left": 1.5, "turn_right": 1.5, "strafe_left": 1, "strafe_right": 1, "use": 1,
        "back": 0.5, "idle": 0.5, "next_weapon": 0.2,
    },
    "explorer": {
        "shoot": 2, "shoot_turn_left": 0.5, "shoot_turn_right": 0.5, "advance": 4, "run": 3,
        "turn_left": 2, "turn_right": 2, "strafe_left": 1, "strafe_right": 1, "use": 3,
        "back": 0.5, "idle": 0.3, "next_weapon": 0.1,
    },
}

_TAP_EVERY_TICS = 6  # USE and weapon switches are taps: ZDoom acts on the press, not the hold
_TAPPED = ("USE", "SELECT_NEXT_WEAPON")


class ScriptedAgent:
    """A macro-action or random player over a fixed list of button names.

    Args:
        kind: one of `AGENT_KINDS`.
        button_names: the scenario's available buttons, by name (e.g. "ATTACK").
        seed: seeds the agent's own generator.

    Raises:
        ConfigError: unknown kind.

    Thread-safety: one instance per game thread.
    """

    def __init__(self, kind: str, button_names: list[str], seed: int) -> None:
        if kind not in AGENT_KINDS:
            raise ConfigError(f"agent kind: expected one of {AGENT_KINDS}, found {kind!r}")
        self.kind = kind
        self.button_names = list(button_names)
        self._index = {name: i for i, name in enumerate(self.button_names)}
        self._rng = np.random.default_rng(seed)
        self._macro: tuple[str, ...] = ()
        self._macro_left = 0
        self._macro_tic = 0
        if kind != "random":
            weights = _WEIGHTS[kind]
            # keep only macros whose buttons exist here (idle always exists)
            usable = [m for m in weights if all(b in self._index for b in _MACROS[m])]
            self._macros = usable
            w = np.array([weights[m] for m in usable], dtype=np.float64)
            self._p = w / w.sum()

    def act(self) -> list[float]:
        """Return the button vector for the next tic (0/1 per button; delta buttons stay 0)."""
        action = [0.0] * len(self.button_names)
        if self.kind == "random":
            return self._act_random(action)
        if self._macro_left <= 0:
            name = self._macros[int(self._rng.choice(len(self._macros), p=self._p))]
            self._macro = _MACROS[name]
            self._macro_left = int(self._rng.integers(3, 26))
            self._macro_tic = 0
        for b in self._macro:
            if b in _TAPPED and self._macro_tic % _TAP_EVERY_TICS != 0:
                continue
            action[self._index[b]] = 1.0
        self._macro_left -= 1
        self._macro_tic += 1
        return action

    def _act_random(self, action: list[float]) -> list[float]:
        # each plain button pressed with p=0.25; weapon selects and delta axes rarely/never,
        # or the player spends the episode lowering and raising weapons in silence
        u = self._rng.random(len(self.button_names))
        for i, name in enumerate(self.button_names):
            if name.endswith("_DELTA"):
                continue
            p = 0.01 if name.startswith("SELECT_") else 0.25
            action[i] = 1.0 if u[i] < p else 0.0
        return action
