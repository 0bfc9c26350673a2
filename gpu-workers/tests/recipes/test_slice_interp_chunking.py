"""Chunked VAE encoding/decoding vs whole-volume passes, the latent cache and the scale factor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hounsfield.data.ct_phantoms import ct_phantom
from hounsfield.recipes.slice_interp.chunking import (
    CHUNKED_RELATIVE_TOLERANCE,
    ChunkSettings,
    LatentCache,
    blend_weights,
    decode_chunked,
    encode_chunked,
    latent_scale_factor,
    read_scale_factor,
    relative_rms_difference,
    windows,
    write_scale_factor,
)
from hounsfield.recipes.slice_interp.vae import FrozenVAE, VaeArchitecture

WIDE = ChunkSettings(encode_chunk=96, encode_overlap=48, decode_chunk=24, decode_overlap=12)


@pytest.fixture(scope="module")
def vae() -> FrozenVAE:
    return FrozenVAE("cpu-tiny", seed=0)


@pytest.fixture(scope="module")
def phantom() -> torch.Tensor:
    hu = ct_phantom((16, 16, 128), seed=1).astype(np.float32)
    return torch.from_numpy(np.clip((hu + 1024) / 2048, 0, 1))[None, None]


class _LocalVae:
    """A VAE stand-in without context across slices: 4× average pooling and nearest upsampling."""

    arch = VaeArchitecture()

    def encode(self, volume: torch.Tensor) -> torch.Tensor:
        return F.avg_pool3d(volume, 4).repeat(1, 4, 1, 1, 1) * torch.arange(1.0, 5.0).view(1, 4, 1, 1, 1)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        return F.interpolate(latent.mean(dim=1, keepdim=True), scale_factor=4, mode="nearest")


@pytest.mark.parametrize("length", [8, 32, 100, 128])
def test_windows_cover_the_volume_and_blend_weights_sum_to_one(length: int) -> None:
    bounds = windows(length, 32, 16)
    assert bounds[0][0] == 0 and bounds[-1][1] == length
    assert all(stop - start <= 32 and start % 4 == 0 for start, stop in bounds)
    assert all(b[0] <= a[1] - 16 for a, b in zip(bounds, bounds[1:], strict=False))
    total = np.zeros(length)
    for (start, stop), w in zip(bounds, blend_weights(bounds, length), strict=True):
        total[start:stop] += w
        assert np.all(w >= 0)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_chunk_assembly_is_exact_for_an_operator_without_context() -> None:
    volume = torch.rand(1, 1, 8, 8, 100)
    local = _LocalVae()
    whole = local.encode(volume)
    chunked = encode_chunked(local, volume, ChunkSettings())  # type: ignore[arg-type]
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-6)
    torch.testing.assert_close(decode_chunked(local, whole), local.decode(whole), rtol=0, atol=1e-6)  # type: ignore[arg-type]


def test_chunked_equals_whole_within_the_stated_tolerance(vae: FrozenVAE, phantom: torch.Tensor) -> None:
    whole = vae.encode(phantom)
    encoded = encode_chunked(vae, phantom, WIDE)
    assert encoded.shape == whole.shape == (1, 4, 4, 4, 32)
    assert relative_rms_difference(encoded, whole) < CHUNKED_RELATIVE_TOLERANCE
    decoded_whole = vae.decode(whole)
    assert (
        relative_rms_difference(decode_chunked(vae, whole, WIDE), decoded_whole) < CHUNKED_RELATIVE_TOLERANCE
    )
    # the default (narrower) windows: less memory, a larger and bounded difference
    narrow = relative_rms_difference(encode_chunked(vae, phantom), whole)
    assert relative_rms_difference(encoded, whole) < narrow < 0.35


def test_a_volume_within_one_chunk_is_encoded_exactly(vae: FrozenVAE, phantom: torch.Tensor) -> None:
    part = phantom[..., :32]
    torch.testing.assert_close(encode_chunked(vae, part), vae.encode(part), rtol=0, atol=1e-6)


def test_bad_chunk_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="encode_chunk"):
        ChunkSettings(encode_chunk=30)
    with pytest.raises(ValueError, match="decode_overlap"):
        ChunkSettings(decode_chunk=8, decode_overlap=5)


def test_latent_cache_runs_the_vae_once_per_case(
    tmp_path: Path, vae: FrozenVAE, phantom: torch.Tensor
) -> None:
    volume = phantom[0, 0, :, :, :64].numpy()
    calls = []

    def load() -> np.ndarray:
        calls.append(1)
        return volume

    cache = LatentCache(tmp_path, vae)
    first = cache.get_or_encode("case-a", load)
    again = LatentCache(tmp_path, vae).get_or_encode("case-a", load)  # a new epoch / process
    assert len(calls) == 1 and cache.encoded == 1
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, encode_chunked(vae, torch.from_numpy(volume)[None, None])[0].numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == [cache.path("case-a").name]
    # other weights, other settings or another case: another entry
    assert LatentCache(tmp_path, FrozenVAE("cpu-tiny", seed=5)).path("case-a") != cache.path("case-a")
    assert LatentCache(tmp_path, vae, WIDE).path("case-a") != cache.path("case-a")
    assert cache.path("case-b") != cache.path("case-a")


def test_latent_scale_factor_is_one_over_the_std_and_is_stored(tmp_path: Path, vae: FrozenVAE) -> None:
    rng = np.random.default_rng(0)
    latents = [rng.normal(0.3, 2.5, size=(4, 3, 3, n)).astype(np.float32) for n in (5, 7, 2)]
    expected = 1.0 / np.concatenate([x.ravel() for x in latents]).astype(np.float64).std()
    scale = latent_scale_factor(latents)
    assert scale == pytest.approx(expected, rel=1e-9)
    write_scale_factor(tmp_path, scale, vae, ["b", "a"])
    assert read_scale_factor(tmp_path, vae) == scale
    assert read_scale_factor(tmp_path, FrozenVAE("cpu-tiny", seed=9)) is None
    with pytest.raises(ValueError, match="constant"):
        latent_scale_factor([np.ones((2, 2), np.float32)])
