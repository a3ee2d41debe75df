"""Text conditioning of the V2A model and `StreamingGenerator.set_prompt` (issue 9).

A model without text is the model it was before text existed (same weights, same keys); a
model with text streams like its offline pass with a prompt set; a prompt change mid-stream
is heard at the next block, ramps in, and leaves no discontinuity at the block boundary.
"""

import dataclasses
import re

import numpy as np
import pytest
import torch

from livefoley.models import ModelConfig, StreamingGenerator, build_model
from livefoley.models.spatial.text import click_ratio
from livefoley.protocol.errors import ConfigError

from .helpers import random_frames, small_config

TOL = 1e-4
TEXT_DIM = 16
# No-click threshold at a block boundary (the same as spatial/text.py's): the step across the
# boundary is at most 1.05x the largest sample-to-sample step within `window` around it.
CLICK_THRESHOLD = 1.05


def _text_config(**vae) -> ModelConfig:
    cfg = small_config()
    return dataclasses.replace(cfg, text_dim=TEXT_DIM, vae=dataclasses.replace(cfg.vae, **vae))


@pytest.fixture
def text_model():
    return build_model(_text_config())


def _emb(seed: int, batch: int | None = None) -> torch.Tensor:
    shape = (TEXT_DIM,) if batch is None else (batch, TEXT_DIM)
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _stream(gen, frames, prompts=None):
    pcm, latents, conds = [], [], []
    for t in range(frames.shape[1]):
        if prompts and t in prompts:
            gen.set_prompt(prompts[t])
        pcm.append(gen.step(frames[:, t]))
        latents.append(gen.prev_latent)
        conds.append(gen.last_condition)
    return torch.cat(pcm, dim=1), torch.stack(latents, 1), torch.stack(conds, 1)


def test_text_dim_defaults_to_zero_and_round_trips():
    assert ModelConfig().text_dim == 0
    cfg = _text_config()
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="text_dim.*found -1"):
        dataclasses.replace(cfg, text_dim=-1)


def test_model_without_text_has_the_weights_it_had_before_text(cfg):
    plain = build_model(cfg).state_dict()
    texted = build_model(dataclasses.replace(cfg, text_dim=TEXT_DIM)).state_dict()
    assert not any(k.startswith("text.") for k in plain)
    assert sorted(k for k in texted if not k.startswith("text.")) == sorted(plain)
    for k, v in plain.items():  # text weights are drawn last: every other weight is unchanged
        assert torch.equal(v, texted[k]), k
    assert "text.null_token" in texted and "text.proj.0.weight" in texted


def test_set_prompt_on_a_model_without_text_is_refused_by_name(model):
    gen = StreamingGenerator(model)
    assert gen.text_dim == 0
    with pytest.raises(ConfigError, match=r"expected a model with text.*found text_dim 0"):
        gen.set_prompt(torch.zeros(384))
    with pytest.raises(ConfigError, match="text_dim 0"):
        gen.set_prompt(None)
    with pytest.raises(ConfigError, match="text_dim 0"):
        gen.set_options(text_guidance_scale=2.0)
    with pytest.raises(ConfigError, match="expected None"):
        model.forward_train(torch.zeros(1, 2, model.config.vision.token_dim),
                            torch.zeros(1, 2, model.config.latent_dim),
                            text_tokens=torch.zeros(1, model.config.transformer.d_model))


def test_bad_prompt_embeddings_are_refused_by_name(text_model):
    gen = StreamingGenerator(text_model, batch_size=2)
    assert gen.text_dim == TEXT_DIM
    for bad, found in ((torch.zeros(TEXT_DIM + 1), f"({TEXT_DIM + 1},)"),
                       (torch.zeros(3, TEXT_DIM), f"(3, {TEXT_DIM})"),
                       (torch.zeros(TEXT_DIM, dtype=torch.int64), "int64"),
                       (np.zeros(TEXT_DIM, np.float32), "ndarray")):
        with pytest.raises(ConfigError) as e:
            gen.set_prompt(bad)
        assert f"({TEXT_DIM},) or (2, {TEXT_DIM})" in str(e.value) and found in str(e.value)
    with pytest.raises(ConfigError, match="finite"):
        gen.set_prompt(torch.full((TEXT_DIM,), float("nan")))


def test_streaming_equals_offline_with_a_prompt(text_model):
    cfg = text_model.config
    T = 3 * cfg.transformer.window_frames + 1
    frames = random_frames(2, T, seed=4)
    gen = StreamingGenerator(text_model, batch_size=2, seed=3)
    gen.set_options(guidance_scale=2.0, text_guidance_scale=2.5, nfe=2)
    gen.set_prompt(_emb(1, batch=2))  # before the first step: applies at once
    pcm, latents, conds = _stream(gen, frames)
    offline_latents = gen.generate_latents(frames)
    offline_pcm = gen.generate(frames)
    assert (latents - offline_latents).abs().max().item() < TOL
    assert (pcm - offline_pcm).abs().max().item() < TOL
    with torch.no_grad():
        tokens = text_model.vision(frames, "RGBA8")
        teacher = gen.forward_train(tokens, latents)  # three row groups, combine_guidance
    assert (conds - teacher).abs().max().item() < TOL
    # the prompt matters: the same frames without it give other latents
    gen.set_prompt(None)
    assert (gen.generate_latents(frames) - latents).abs().max().item() > 1e-3


def test_a_prompt_for_some_rows_leaves_the_other_sessions_as_they_were(text_model):
    frames = random_frames(2, 9, seed=6)
    a, b, change = _emb(1), _emb(2), 4
    gen = StreamingGenerator(text_model, batch_size=2, seed=0, prompt_ramp_steps=2)
    base, _, _ = _stream(gen, frames, {0: a})  # both sessions: prompt a all along
    gen.reset()
    out = []
    for t in range(9):
        if t == change:
            gen.set_prompt(b, rows=[1])  # session 1 only
        out.append(gen.step(frames[:, t]))
    out = torch.cat(out, 1)
    hop = text_model.config.hop_samples
    assert torch.equal(out[0], base[0])  # session 0 never hears it
    assert torch.equal(out[1, :change * hop], base[1, :change * hop])
    assert (out[1, change * hop:] - base[1, change * hop:]).abs().max().item() > 1e-4
    with torch.no_grad():
        want = torch.cat([text_model.text_token(a[None]), text_model.text_token(b[None])])
    assert (gen.last_text_token - want).abs().max().item() < 1e-6
    gen.set_prompt(None, rows=[0])  # clear session 0: null token there, b stays on row 1
    with torch.no_grad():
        null = text_model.text_token(None)
    assert (gen._prompt_token() - torch.cat([null, want[1:]])).abs().max().item() < 1e-6
    for rows, found in (([2], "[2]"), ([1, 1], "[1, 1]"), ([], "[]"), ([0.5], "[0.5]")):
        with pytest.raises(ConfigError, match=r"expected distinct rows in \[0, 2\), found " + re.escape(found)):
            gen.set_prompt(a, rows=rows)
    with pytest.raises(ConfigError, match=rf"\({TEXT_DIM},\) or \(1, {TEXT_DIM}\), found .*\(2, {TEXT_DIM}\)"):
        gen.set_prompt(_emb(3, batch=2), rows=[1])


def test_prompt_change_is_heard_at_the_next_block_and_ramps_in(text_model):
    frames = random_frames(1, 10, seed=5)
    a, b, change = _emb(1), _emb(2), 5
    gen = StreamingGenerator(text_model, seed=0, prompt_ramp_steps=4)
    base, _, _ = _stream(gen, frames, {0: a})
    gen.reset()
    tokens = []
    out = []
    for t in range(10):
        if t == change:
            gen.set_prompt(b)
        out.append(gen.step(frames[:, t]))
        tokens.append(gen.last_text_token.clone())
    out = torch.cat(out, 1)
    hop = text_model.config.hop_samples
    assert torch.equal(out[:, :change * hop], base[:, :change * hop])  # causal: nothing before
    assert (out[:, change * hop:(change + 1) * hop] - base[:, change * hop:(change + 1) * hop]
            ).abs().max().item() > 1e-4  # heard in the first block after the change
    with torch.no_grad():
        ta, tb = text_model.text_token(a[None]), text_model.text_token(b[None])
    for k in range(4):  # linear ramp: 1/4, 2/4, 3/4, then exactly the new prompt's token
        want = ta + (k + 1) / 4 * (tb - ta)
        assert (tokens[change + k] - want).abs().max().item() < 1e-6
    assert torch.equal(tokens[-1], tokens[change + 3]) and not gen.prompt_ramping


def test_prompt_change_leaves_no_click_at_the_block_boundary():
    # 6 kHz, hop 200: enough samples per block for a local comparison window of 50.
    model = build_model(_text_config(sample_rate_hz=6000, strides=(10, 20)))
    hop, change, window = model.config.hop_samples, 6, 50
    frames = random_frames(1, 12, seed=0)

    def render(reset_decoder_at_change: bool) -> np.ndarray:
        gen = StreamingGenerator(model, seed=0)
        gen.set_prompt(_emb(1))
        out = []
        for t in range(12):
            if t == change:
                gen.set_prompt(_emb(2))
                if reset_decoder_at_change:  # the control: a real discontinuity
                    for s in gen.vae_state:
                        s.zero_()
            out.append(gen.step(frames[:, t]))
        return torch.cat(out, 1)[0].T.numpy()  # (C, N)

    ratio = click_ratio(render(False), change * hop, window)
    control = click_ratio(render(True), change * hop, window)
    assert ratio < CLICK_THRESHOLD, ratio
    assert control > CLICK_THRESHOLD, control  # the measurement can see a click
