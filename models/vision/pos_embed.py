"""Bicubic interpolation of DINOv2's learned position embeddings to any grid size.

What it is: one function that resizes the (M x M) patch position grid a checkpoint was
trained with (37x37 for the 518 px hub models) to the (rows x cols) grid of the current
input, matching both reference implementations:

- Hugging Face `Dinov2Embeddings.interpolate_pos_encoding`: `size=(rows, cols)`, bicubic,
  `align_corners=False`, no antialias; `Dinov2WithRegistersEmbeddings`: the same with
  `antialias=True`. Both in float32. Config: offset 0.0, antialias False / True.
- facebookresearch/dinov2 `DinoVisionTransformer.interpolate_pos_encoding`: with
  `interpolate_offset` (0.1 for the plain hub models) it passes
  `scale_factor=((rows + 0.1) / M, (cols + 0.1) / M)` instead of a size — the output size is
  the same, but PyTorch then samples with that scale, so the values differ slightly. With
  offset 0 it passes the size, as HF does; the "-reg" hub models use offset 0 and
  antialias True, which is exactly HF's registers model.

Both skip interpolation when the grid is square and has the trained number of patches; so
does this function (with a nonzero offset the skip changes the result, so it matters).

What it is not: the CLS or register tokens' embedding (CLS keeps its own; registers have none).
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)


def interpolate_pos_embed(patch_pos: torch.Tensor, rows: int, cols: int, *,
                          offset: float, antialias: bool) -> torch.Tensor:
    """Resize patch position embeddings to a (rows x cols) grid.

    Args:
        patch_pos: (1, M*M, D) patch position embeddings (CLS row removed).
        rows: grid rows of the current input (height // patch).
        cols: grid columns (width // patch).
        offset: Meta's `interpolate_offset` (0.0 = interpolate to an exact size, as HF does).
        antialias: the `antialias` flag of the bicubic interpolation.

    Returns:
        (1, rows*cols, D) in the dtype of `patch_pos`, row-major over the grid.

    Thread-safety: pure function. Real-time safe: no (allocates).
    """
    _, n, dim = patch_pos.shape
    m = int(math.isqrt(n))
    assert m * m == n, f"position grid is not square: {n} positions"
    if rows == cols and rows * cols == n:
        return patch_pos
    grid = patch_pos.float().reshape(1, m, m, dim).permute(0, 3, 1, 2)  # (1, D, M, M)
    if offset:
        scale = ((rows + offset) / m, (cols + offset) / m)
        grid = F.interpolate(grid, scale_factor=scale, mode="bicubic", antialias=antialias)
    else:
        grid = F.interpolate(grid, size=(rows, cols), mode="bicubic", align_corners=False,
                             antialias=antialias)
    assert grid.shape[-2:] == (rows, cols), (tuple(grid.shape), rows, cols)
    return grid.permute(0, 2, 3, 1).reshape(1, rows * cols, dim).to(patch_pos.dtype)
