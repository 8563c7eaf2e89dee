"""The orthonormal discrete cosine transform (DCT-II) and its inverse along the last dimension, by one FFT
of the same length (Makhoul 1980), on any device: `sgn`'s column sketch mixes the parameters with it.

`dct(x)` equals `scipy.fft.dct(x, norm="ortho")` and `idct(dct(x))` returns x (tested); being orthonormal,
the inverse is also the transpose.
"""
from __future__ import annotations

import math

import torch


def _twiddle(n: int, like: torch.Tensor) -> torch.Tensor:
    """exp(-i pi k / (2n)), k = 0..n-1, scaled to the orthonormal DCT: 1/sqrt(4n) at k = 0, 1/sqrt(2n) after."""
    k = torch.arange(n, dtype=like.dtype, device=like.device)
    scale = torch.full((n,), 1 / math.sqrt(2 * n), dtype=like.dtype, device=like.device)
    scale[0] = 1 / math.sqrt(4 * n)
    return torch.polar(scale, -math.pi * k / (2 * n))


def dct(x: torch.Tensor) -> torch.Tensor:
    """The orthonormal DCT-II of x along its last dimension (real in, real out)."""
    n = x.shape[-1]
    v = torch.cat([x[..., ::2], x[..., 1::2].flip(-1)], dim=-1)
    return 2 * (torch.fft.fft(v, dim=-1) * _twiddle(n, x)).real


def idct(y: torch.Tensor) -> torch.Tensor:
    """The inverse of `dct` (the orthonormal DCT-III) along the last dimension."""
    n = y.shape[-1]
    mirrored = torch.cat([torch.zeros_like(y[..., :1]), y[..., 1:].flip(-1)], dim=-1)  # y[n - k], y[n] = 0
    spectrum = torch.complex(y, -mirrored) / (2 * _twiddle(n, y))
    v = torch.fft.ifft(spectrum, dim=-1).real
    x = torch.empty_like(y)
    half = (n + 1) // 2
    x[..., ::2], x[..., 1::2] = v[..., :half], v[..., half:].flip(-1)
    return x
