"""Encoding and decoding a volume with the VAE in chunks along z, and the per-case latent cache.

A whole 512×512×300 volume does not fit through the MAISI VAE at once (the field report's first
attempt asked for 189 GB). :func:`encode_chunked` runs the encoder on windows of ``chunk`` slices
(default 32) and :func:`decode_chunked` the decoder on windows of ``chunk`` latent slices
(default 8). Neighbouring windows share ``overlap`` slices (input slices when encoding, latent
slices when decoding), and the outputs are blended across the shared part with linear weights
that sum to one, so there are no seams. Windows start on multiples of the VAE's downsampling
factor (4), so every window's latent grid is a slice of the whole volume's.

The result is not bit-identical to a whole-volume pass: convolutions near a window's inner edge
see zero padding instead of the neighbouring slices, and the VAE's group norms take their
statistics over the window instead of the whole volume. In each shared part the outer quarters
are taken only from the window farther from its edge and the middle half is ramped. Measured on
CT phantoms with the ``cpu-tiny`` VAE and *random* weights (whose influence reaches about 20
input slices, 5 latent slices, past a window edge): windows of 96/48 slices (encode, overlap 48)
and 24/12 latent slices (decode, overlap 12) stay within ``CHUNKED_RELATIVE_TOLERANCE`` (relative
RMS difference 0.06, tested in ``tests/recipes/test_slice_interp_chunking.py``); the default
32/16 and 8/4 windows, which save the most memory, differ by about 0.2 there (tested < 0.35).
A pretrained VAE's reach is expected to be shorter but is not measured here;
``bench/maisi_chunking.py`` prints the difference beside the memory saved. Setting
the group norms to whole-volume statistics gathered in an extra pass was tried and did not help
while the edge effect dominates.

Latents are cached on disk per prepared case (:class:`LatentCache`), keyed by the VAE's weights
hash, the chunk settings and the case's content hash, so the VAE runs once per case and not once
per epoch. :func:`latent_scale_factor` (1 / std of the training latents) scales latents to unit
variance for the diffusion model; :func:`write_scale_factor` stores it with the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from hounsfield.recipes.slice_interp.vae import DOWNSAMPLE, FrozenVAE

#: Bound on ``rms(chunked - whole) / rms(whole)`` tested for wide windows (see the module docstring).
CHUNKED_RELATIVE_TOLERANCE = 0.06


@dataclass(frozen=True)
class ChunkSettings:
    """Window sizes and overlaps along z; encode values in input slices, decode in latent slices."""

    encode_chunk: int = 32
    encode_overlap: int = 16
    decode_chunk: int = 8
    decode_overlap: int = 4

    def __post_init__(self) -> None:
        for name in ("encode_chunk", "encode_overlap"):
            if getattr(self, name) % DOWNSAMPLE:
                raise ValueError(
                    f"{name} must be a multiple of {DOWNSAMPLE} slices, got {getattr(self, name)}"
                )
        for name, chunk, overlap in (
            ("encode", self.encode_chunk, self.encode_overlap),
            ("decode", self.decode_chunk, self.decode_overlap),
        ):
            if chunk <= 0 or overlap < 0 or 2 * overlap > chunk:
                raise ValueError(
                    f"{name}_overlap must be between 0 and half of {name}_chunk "
                    f"(got chunk {chunk}, overlap {overlap})"
                )

    def key(self) -> dict[str, int]:
        return asdict(self)


def windows(length: int, chunk: int, overlap: int) -> list[tuple[int, int]]:
    """``[start, stop)`` windows of at most ``chunk`` covering ``range(length)``, sharing ``overlap``.

    Consecutive windows advance by ``chunk - overlap``; the last one ends at ``length`` (it may
    overlap its neighbour by more, never less).
    """
    if length <= chunk:
        return [(0, length)]
    stride = chunk - overlap
    starts = list(range(0, length - chunk, stride)) + [length - chunk]
    return [(s, s + chunk) for s in starts]


def blend_weights(bounds: list[tuple[int, int]], length: int) -> list[npt.NDArray[np.float32]]:
    """Per-window weights along z that sum to one at every slice (linear ramps across overlaps)."""
    weights = [np.ones(stop - start, dtype=np.float32) for start, stop in bounds]
    for index in range(len(bounds) - 1):
        (_, stop_a), (start_b, _) = bounds[index], bounds[index + 1]
        shared = stop_a - start_b
        if shared <= 0:
            continue
        # the outer quarters of the shared part sit next to a window's inner edge (zero padding
        # instead of context): that window's output is dropped there; the middle half is ramped
        margin = shared // 4
        ramp = np.zeros(shared, dtype=np.float32)
        ramp[shared - margin :] = 1.0
        middle = shared - 2 * margin
        ramp[margin : shared - margin] = (np.arange(middle, dtype=np.float32) + 0.5) / middle
        weights[index][-shared:] *= 1.0 - ramp
        weights[index + 1][:shared] *= ramp
    total = np.zeros(length, dtype=np.float32)
    for (start, stop), w in zip(bounds, weights, strict=True):
        total[start:stop] += w
    for (start, stop), w in zip(bounds, weights, strict=True):
        w /= total[start:stop]
    return weights


def _blend(
    run: Callable[[Tensor], Tensor],
    source: Tensor,
    bounds: list[tuple[int, int]],
    scale: float,
    out_shape: tuple[int, ...],
) -> Tensor:
    out_bounds = [(int(start * scale), int(stop * scale)) for start, stop in bounds]
    weights = blend_weights(out_bounds, out_shape[-1])
    result = torch.zeros(out_shape, dtype=torch.float32)
    for (start, stop), (o_start, o_stop), w in zip(bounds, out_bounds, weights, strict=True):
        piece = run(source[..., start:stop]).to("cpu", torch.float32)
        if piece.shape[-1] != o_stop - o_start:
            raise RuntimeError(
                f"window [{start}, {stop}) gave {piece.shape[-1]} slices, expected {o_stop - o_start}"
            )
        result[..., o_start:o_stop] += piece * torch.from_numpy(w)
        del piece
    return result


def encode_chunked(vae: FrozenVAE, volume: Tensor, settings: ChunkSettings | None = None) -> Tensor:
    """Latent means of ``volume`` ``(B, 1, X, Y, Z)``, computed ``settings.encode_chunk`` slices at a time."""
    settings = settings or ChunkSettings()
    depth = volume.shape[-1]
    if depth % DOWNSAMPLE:
        raise ValueError(f"volume depth {depth} must be a multiple of {DOWNSAMPLE} slices; crop or pad z")
    bounds = windows(depth, settings.encode_chunk, settings.encode_overlap)
    b, _, x, y, _ = volume.shape
    shape = (b, vae.arch.latent_channels, x // DOWNSAMPLE, y // DOWNSAMPLE, depth // DOWNSAMPLE)
    return _blend(vae.encode, volume, bounds, 1 / DOWNSAMPLE, shape)


def decode_chunked(vae: FrozenVAE, latent: Tensor, settings: ChunkSettings | None = None) -> Tensor:
    """Volumes decoded from ``latent`` ``(B, C, x, y, z)``, ``decode_chunk`` latent slices at a time."""
    settings = settings or ChunkSettings()
    bounds = windows(latent.shape[-1], settings.decode_chunk, settings.decode_overlap)
    b, _, x, y, z = latent.shape
    shape = (b, vae.arch.out_channels, x * DOWNSAMPLE, y * DOWNSAMPLE, z * DOWNSAMPLE)
    return _blend(vae.decode, latent, bounds, DOWNSAMPLE, shape)


def relative_rms_difference(a: Tensor, b: Tensor) -> float:
    """``rms(a - b) / rms(b)``: how far a chunked result is from the whole-volume one."""
    return float(torch.sqrt(torch.mean((a - b) ** 2)) / torch.sqrt(torch.mean(b**2)).clamp_min(1e-12))


class LatentCache:
    """Latents on disk, one ``.npy`` per (VAE weights hash, chunk settings, case content hash).

    ``get_or_encode`` encodes a case only when its entry is missing; entries are written to a
    temporary name and renamed, so a crash never leaves a truncated latent behind.
    """

    def __init__(self, directory: Path, vae: FrozenVAE, settings: ChunkSettings | None = None) -> None:
        self.directory = directory
        self.vae = vae
        self.settings = settings or ChunkSettings()
        self.encoded = 0  # how many cases this instance ran through the VAE

    def key(self, case_hash: str) -> str:
        material = json.dumps(
            {
                "vae": self.vae.weights_hash,
                "vaeConfig": self.vae.config_name,
                "chunks": self.settings.key(),
                "case": case_hash,
            },
            sort_keys=True,
        )
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def path(self, case_hash: str) -> Path:
        return self.directory / f"{self.key(case_hash)}.npy"

    def get_or_encode(
        self, case_hash: str, volume: Callable[[], npt.NDArray[np.float32]]
    ) -> npt.NDArray[np.float32]:
        """The cached latent ``(C, x, y, z)`` of a case, encoding ``volume()`` ``(X, Y, Z)`` if absent."""
        target = self.path(case_hash)
        if target.is_file():
            return np.load(target)
        data = torch.from_numpy(np.ascontiguousarray(volume(), dtype=np.float32))[None, None]
        latent = encode_chunked(self.vae, data, self.settings)[0].numpy()
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.partial.npy")
        np.save(partial, latent)
        partial.replace(target)
        self.encoded += 1
        return latent


def latent_scale_factor(latents: Iterable[npt.NDArray[np.float32]]) -> float:
    """1 / std of all values of the given (training) latents, computed in one streaming pass."""
    count, total, total_sq = 0, 0.0, 0.0
    for latent in latents:
        values = np.asarray(latent, dtype=np.float64)
        count += values.size
        total += float(values.sum())
        total_sq += float(np.square(values).sum())
    if count < 2:
        raise ValueError("the latent scale factor needs at least one training latent with two values")
    variance = max(total_sq / count - (total / count) ** 2, 0.0)
    if variance <= 0.0:
        raise ValueError("training latents are constant; the latent scale factor (1/std) is undefined")
    return 1.0 / float(np.sqrt(variance))


SCALE_FILE = "latent_scale.json"


def write_scale_factor(directory: Path, scale: float, vae: FrozenVAE, cases: list[str]) -> Path:
    """Stores the scale factor with the VAE hash and the training cases it was computed from."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SCALE_FILE
    path.write_text(
        json.dumps(
            {"scaleFactor": scale, "vaeWeightsHash": vae.weights_hash, "cases": sorted(cases)}, indent=2
        )
    )
    return path


def read_scale_factor(directory: Path, vae: FrozenVAE) -> float | None:
    """The stored scale factor, or ``None`` when absent or computed with other VAE weights."""
    path = directory / SCALE_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if data.get("vaeWeightsHash") != vae.weights_hash:
        return None
    return float(data["scaleFactor"])
