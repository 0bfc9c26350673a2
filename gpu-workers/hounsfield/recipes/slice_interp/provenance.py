"""What a slice_interp checkpoint's ``meta.json`` provenance records, and how it is read back.

Checkpoints hold the denoiser's weights only; everything else inference needs travels here as
strings (the platform's provenance values are strings of at most 512 characters): the denoiser
and diffusion settings, the pair geometry, the VAE's configuration, weights hash, whether it was
pretrained and the seed of its random initialisation, the latent scale factor and the intensity
window the volumes were prepared with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from hounsfield.recipes.slice_interp.config import (
    DenoiserConfig,
    DiffusionConfig,
    PairConfig,
    SliceInterpConfig,
    VaeConfig,
)
from hounsfield.recipes.slice_interp.vae import FrozenVAE

META_DENOISER = "sliceInterpDenoiser"
META_DIFFUSION = "sliceInterpDiffusion"
META_PAIRS = "sliceInterpPairs"
META_CHUNKS = "sliceInterpVaeChunks"
META_WINDOW = "sliceInterpWindow"
META_SCALE = "latentScaleFactor"
META_VAE_CONFIG = "vaeConfig"
META_VAE_SHA256 = "vaeWeightsSha256"
META_VAE_PRETRAINED = "vaePretrained"
META_VAE_SEED = "vaeRandomSeed"


def checkpoint_provenance(
    config: SliceInterpConfig, vae: FrozenVAE, scale: float, extra: Mapping[str, str]
) -> dict[str, str]:
    """The provenance every checkpoint of a run carries (see the module docstring)."""
    vae_chunks = config.vae.model_dump(mode="json", by_alias=True, exclude={"weights", "sha256", "config"})
    return {
        **extra,
        META_DENOISER: config.denoiser.model_dump_json(by_alias=True),
        META_DIFFUSION: config.diffusion.model_dump_json(by_alias=True),
        META_PAIRS: config.pairs.model_dump_json(by_alias=True),
        META_CHUNKS: json.dumps(vae_chunks, sort_keys=True),
        META_WINDOW: json.dumps(config.volumes.window),
        META_SCALE: repr(scale),
        META_VAE_CONFIG: vae.config_name,
        META_VAE_SHA256: vae.weights_hash,
        META_VAE_PRETRAINED: "true" if vae.pretrained else "false",
        META_VAE_SEED: str(config.seed),
    }


@dataclass(frozen=True)
class SliceInterpProvenance:
    """The provenance of a checkpoint, parsed."""

    denoiser: DenoiserConfig
    diffusion: DiffusionConfig
    pairs: PairConfig
    vae: VaeConfig
    window: str | tuple[float, float]
    scale: float
    vae_sha256: str
    vae_pretrained: bool
    vae_seed: int


class ProvenanceError(ValueError):
    """A checkpoint without (complete) slice_interp provenance; the message names the key."""


def parse_provenance(provenance: Mapping[str, str] | None, where: str) -> SliceInterpProvenance:
    values = dict(provenance or {})
    needed = [
        META_DENOISER,
        META_DIFFUSION,
        META_PAIRS,
        META_CHUNKS,
        META_WINDOW,
        META_SCALE,
        META_VAE_CONFIG,
        META_VAE_SHA256,
        META_VAE_PRETRAINED,
        META_VAE_SEED,
    ]
    missing = [key for key in needed if key not in values]
    if missing:
        raise ProvenanceError(
            f"{where}: not a slice_interp checkpoint (meta.json provenance lacks {', '.join(missing)})"
        )
    window = json.loads(values[META_WINDOW])
    return SliceInterpProvenance(
        denoiser=DenoiserConfig.model_validate_json(values[META_DENOISER]),
        diffusion=DiffusionConfig.model_validate_json(values[META_DIFFUSION]),
        pairs=PairConfig.model_validate_json(values[META_PAIRS]),
        vae=VaeConfig.model_validate({**json.loads(values[META_CHUNKS]), "config": values[META_VAE_CONFIG]}),
        window=window if isinstance(window, str) else (float(window[0]), float(window[1])),
        scale=float(values[META_SCALE]),
        vae_sha256=values[META_VAE_SHA256],
        vae_pretrained=values[META_VAE_PRETRAINED] == "true",
        vae_seed=int(values[META_VAE_SEED]),
    )
