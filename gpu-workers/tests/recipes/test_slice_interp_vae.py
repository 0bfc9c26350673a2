"""The frozen MAISI VAE: configuration, weights checks before any GPU, frozen state, hashes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from hounsfield.checkpoints.layout import CheckpointFormatError
from hounsfield.checkpoints.weights import WeightsMismatchError, file_sha256
from hounsfield.recipes.slice_interp.vae import (
    VAE_CONFIGS,
    FrozenVAE,
    build_vae_module,
    check_vae_weights,
    parameter_counts,
)


def test_maisi_configuration_has_the_published_size_and_compression() -> None:
    module = build_vae_module(VAE_CONFIGS["maisi"], "meta")  # no memory: shapes only
    assert sum(p.numel() for p in module.parameters()) == 20_944_897  # the report's frozen VAE count
    arch = VAE_CONFIGS["maisi"]
    assert (arch.latent_channels, arch.num_channels, arch.num_res_blocks) == (4, (64, 128, 256), (2, 2, 2))
    assert arch.attention_levels == (False, False, False) and arch.norm_num_groups == 32


def _tiny_weights(tmp_path: Path, seed: int = 3) -> tuple[Path, dict[str, torch.Tensor]]:
    torch.manual_seed(seed)
    state = {k: v.clone() for k, v in build_vae_module(VAE_CONFIGS["cpu-tiny"]).state_dict().items()}
    path = tmp_path / "vae.safetensors"
    save_file(state, str(path))
    return path, state


def test_loaded_weights_are_frozen_and_bit_identical(tmp_path: Path) -> None:
    path, state = _tiny_weights(tmp_path)
    vae = FrozenVAE("cpu-tiny", weights=path, expected_sha256=file_sha256(path))
    assert vae.pretrained and vae.weights_hash == file_sha256(path)
    for key, value in vae.module.state_dict().items():
        assert torch.equal(value, state[key]), key
    counts = parameter_counts(vae.module)
    assert counts.trainable == 0 and counts.frozen == sum(
        v.numel() for k, v in state.items() if "running" not in k
    )
    assert not vae.module.training
    latent = vae.encode(torch.rand(1, 1, 16, 16, 16))
    assert latent.shape == (1, 4, 4, 4, 4) and not latent.requires_grad and latent.grad_fn is None
    assert vae.decode(latent).shape == (1, 1, 16, 16, 16)
    assert vae.describe()["trainableParameters"] == 0


def test_random_weights_are_flagged_and_hashed_reproducibly() -> None:
    first, again, other = (
        FrozenVAE("cpu-tiny", seed=1),
        FrozenVAE("cpu-tiny", seed=1),
        FrozenVAE("cpu-tiny", seed=2),
    )
    assert not first.pretrained and first.describe()["pretrained"] is False
    assert first.weights_hash == again.weights_hash != other.weights_hash


def test_a_wrong_key_fails_before_building_naming_the_key(tmp_path: Path) -> None:
    path, state = _tiny_weights(tmp_path)
    state["encoder.extra.weight"] = torch.zeros(2)
    del state["decoder.blocks.0.conv.conv.weight"]
    save_file(state, str(path))
    with pytest.raises(WeightsMismatchError) as error:
        check_vae_weights(path, VAE_CONFIGS["cpu-tiny"])
    assert "decoder.blocks.0.conv.conv.weight" in str(error.value)
    assert "encoder.extra.weight" in str(error.value)
    with pytest.raises(WeightsMismatchError, match="missing 1"):
        FrozenVAE("cpu-tiny", weights=path)


def test_weights_of_another_configuration_name_the_reshaped_keys(tmp_path: Path) -> None:
    path, _ = _tiny_weights(tmp_path)
    with pytest.raises(WeightsMismatchError, match="shape mismatch"):
        check_vae_weights(path, VAE_CONFIGS["maisi"])  # the maisi module exists only on meta here


def test_a_sha256_mismatch_names_both_digests(tmp_path: Path) -> None:
    path, _ = _tiny_weights(tmp_path)
    actual = file_sha256(path)
    with pytest.raises(CheckpointFormatError, match=f"sha256 {actual}, expected {'0' * 64}"):
        check_vae_weights(path, VAE_CONFIGS["cpu-tiny"], expected_sha256="0" * 64)
    with pytest.raises(CheckpointFormatError, match="do not exist"):
        check_vae_weights(tmp_path / "absent.safetensors", VAE_CONFIGS["cpu-tiny"])


def test_torch_save_weights_with_data_parallel_prefix_load(tmp_path: Path) -> None:
    _, state = _tiny_weights(tmp_path)
    path = tmp_path / "vae.pt"
    torch.save({"module." + k: v for k, v in state.items()}, path)
    assert check_vae_weights(path, VAE_CONFIGS["cpu-tiny"]) == file_sha256(path)
    vae = FrozenVAE("cpu-tiny", weights=path)
    assert torch.equal(
        vae.module.state_dict()["encoder.blocks.0.conv.conv.weight"],
        state["encoder.blocks.0.conv.conv.weight"],
    )


def test_a_vae_that_was_unfrozen_is_refused() -> None:
    vae = FrozenVAE("cpu-tiny")
    vae.module.train()
    with pytest.raises(RuntimeError, match="frozen"):
        vae.encode(torch.rand(1, 1, 8, 8, 8))


def test_volume_sizes_not_divisible_by_four_are_refused() -> None:
    with pytest.raises(ValueError, match="divisible by 4"):
        FrozenVAE("cpu-tiny").encode(torch.rand(1, 1, 8, 8, 10))
