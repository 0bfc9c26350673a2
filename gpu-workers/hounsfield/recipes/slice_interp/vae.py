"""The frozen MAISI VAE: MONAI's ``AutoencoderKlMaisi`` with the MAISI CT configuration.

Configurations (``VAE_CONFIGS``):

* ``maisi`` — the published MAISI CT autoencoder: 3-D, 1 input / 1 output channel, 4 latent
  channels, ``num_channels`` (64, 128, 256), ``num_res_blocks`` (2, 2, 2), 32 norm groups,
  ``norm_eps`` 1e-6, no attention at any level and no non-local attention in encoder or decoder,
  trilinear-upsampling decoder (no transposed convolutions). Three levels, two stride-2
  downsamplings: the latent is 4× smaller along every axis. The MAISI bundle splits its
  convolutions internally (``num_splits``/``dim_split``) to save memory and can run its group norm
  in float16; those settings change no weight, and here the norm stays float32 so the VAE runs on
  CPUs too. About 20.9 M parameters.
* ``cpu-tiny`` — the same architecture, small: channels (8, 16, 32), one residual block per level,
  4 norm groups; for tests and CPU runs (same 4× compression, same 4 latent channels).

Weights come from a user file (``.safetensors`` or a ``torch.save`` state dict): an expected
sha256 is checked first, then :func:`check_vae_weights` compares the file's keys and shapes with
the architecture's without allocating it (the module is built on the ``meta`` device), so a wrong
file fails before any GPU is claimed, with the missing/unexpected keys named. Without a file the
VAE keeps its seeded random initialisation and :attr:`FrozenVAE.pretrained` is ``False`` (to be
reported in events and checkpoint meta). The VAE is always frozen: no parameter requires a
gradient, the module is in eval mode and its encode/decode run under ``torch.no_grad`` (latents
stay usable as plain inputs of a trained network, which inference-mode tensors are not).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, cast

import torch
from safetensors import safe_open
from torch import Tensor, nn

from hounsfield.checkpoints.layout import CheckpointFormatError
from hounsfield.checkpoints.weights import (
    WeightsMismatchError,
    WeightsReport,
    file_sha256,
    load_weights,
    read_state_dict,
)

VaeConfigName = Literal["maisi", "cpu-tiny"]

#: Spatial compression of the latent along each axis (two stride-2 downsamplings).
DOWNSAMPLE = 4


@dataclass(frozen=True)
class VaeArchitecture:
    """The ``AutoencoderKlMaisi`` arguments (names as MONAI spells them)."""

    spatial_dims: int = 3
    in_channels: int = 1
    out_channels: int = 1
    latent_channels: int = 4
    num_channels: tuple[int, ...] = (64, 128, 256)
    num_res_blocks: tuple[int, ...] = (2, 2, 2)
    norm_num_groups: int = 32
    norm_eps: float = 1e-6
    attention_levels: tuple[bool, ...] = (False, False, False)
    with_encoder_nonlocal_attn: bool = False
    with_decoder_nonlocal_attn: bool = False
    use_convtranspose: bool = False
    use_checkpointing: bool = False
    num_splits: int = 1
    dim_split: int = 0
    norm_float16: bool = False

    def kwargs(self) -> dict[str, Any]:
        values = asdict(self)
        for key in ("num_channels", "num_res_blocks", "attention_levels"):
            values[key] = list(values[key])
        return values


VAE_CONFIGS: dict[str, VaeArchitecture] = {
    "maisi": VaeArchitecture(),
    "cpu-tiny": VaeArchitecture(num_channels=(8, 16, 32), num_res_blocks=(1, 1, 1), norm_num_groups=4),
}


def architecture(name: str) -> VaeArchitecture:
    try:
        return VAE_CONFIGS[name]
    except KeyError:
        raise ValueError(f"vae config {name!r} is unknown; use one of {sorted(VAE_CONFIGS)}") from None


def build_vae_module(arch: VaeArchitecture, device: torch.device | str = "cpu") -> nn.Module:
    """An ``AutoencoderKlMaisi`` with ``arch`` on ``device`` (``"meta"``: shapes only, no memory)."""
    from monai.apps.generation.maisi.networks.autoencoderkl_maisi import AutoencoderKlMaisi

    with torch.device(device):
        module: nn.Module = AutoencoderKlMaisi(**arch.kwargs(), print_info=False, save_mem=False)
    return module


def _file_keys(path: Path) -> dict[str, tuple[int, ...]]:
    if path.suffix == ".safetensors":
        with safe_open(str(path), framework="pt", device="cpu") as handle:  # type: ignore[no-untyped-call]
            return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}  # noqa: SIM118
    return {key: tuple(value.shape) for key, value in read_state_dict(path).items()}


def check_vae_weights(path: Path, arch: VaeArchitecture, *, expected_sha256: str | None = None) -> str:
    """Checks ``path`` against ``arch`` without building it anywhere but on ``meta``; returns its sha256.

    Raises :class:`CheckpointFormatError` for a missing file or a sha256 mismatch (naming both
    digests) and :class:`WeightsMismatchError` naming missing, unexpected and reshaped keys.
    Safe to call before GPUs are claimed (a ``.safetensors`` file is not even read in full).
    """
    if not path.is_file():
        raise CheckpointFormatError(f"vae weights {path} do not exist; set vae.weights to a weights file")
    digest = file_sha256(path)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise CheckpointFormatError(
            f"vae weights {path} have sha256 {digest}, expected {expected_sha256.lower()}; "
            "wrong or corrupted file (or fix vae.sha256)"
        )
    incoming = _file_keys(path)
    prefix = "module."
    if incoming and all(key.startswith(prefix) for key in incoming):
        incoming = {key[len(prefix) :]: shape for key, shape in incoming.items()}
    own = {key: tuple(t.shape) for key, t in build_vae_module(arch, "meta").state_dict().items()}
    report = WeightsReport(
        source=str(path),
        loaded=sum(1 for key in own if incoming.get(key) == own[key]),
        missing=sorted(key for key in own if key not in incoming),
        unexpected=sorted(key for key in incoming if key not in own),
        mismatched={
            key: (list(incoming[key]), list(own[key]))
            for key in sorted(own)
            if key in incoming and incoming[key] != own[key]
        },
        sha256=digest,
    )
    if not report.complete:
        raise WeightsMismatchError(f"vae weights do not fit AutoencoderKlMaisi: {report.summary()}")
    return digest


def state_dict_hash(module: nn.Module) -> str:
    """sha256 over the state dict's names, shapes, dtypes and bytes (stable for equal weights)."""
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{key}|{tuple(value.shape)}|{value.dtype}|".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


@dataclass(frozen=True)
class ParameterCounts:
    trainable: int
    frozen: int


def parameter_counts(module: nn.Module) -> ParameterCounts:
    """How many parameters of ``module`` require gradients and how many do not."""
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    return ParameterCounts(trainable=trainable, frozen=frozen)


class FrozenVAE:
    """A frozen ``AutoencoderKlMaisi``: encode to the latent mean, decode latents; never trained.

    ``weights_hash`` is the weights file's sha256 when loaded from one, else the hash of the random
    state dict (``pretrained`` is then ``False``). Not an ``nn.Module`` on purpose: it cannot end
    up inside a trained model or an optimiser by accident.
    """

    def __init__(
        self,
        config: str = "maisi",
        *,
        weights: Path | None = None,
        expected_sha256: str | None = None,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        self.config_name = config
        self.arch = architecture(config)
        if weights is not None:
            check_vae_weights(weights, self.arch, expected_sha256=expected_sha256)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.module = build_vae_module(self.arch, "cpu")
        self.pretrained = weights is not None
        if weights is not None:
            report = load_weights(self.module, weights, strict=True)
            assert report.sha256 is not None
            self.weights_hash = report.sha256
        else:
            self.weights_hash = state_dict_hash(self.module)
        self.module.requires_grad_(False)
        self.module.eval()
        self.module.to(device)
        self.device = torch.device(device)

    def describe(self) -> dict[str, Any]:
        """What events and checkpoint meta record about the VAE."""
        counts = parameter_counts(self.module)
        return {
            "config": self.config_name,
            "pretrained": self.pretrained,
            "weightsHash": self.weights_hash,
            "parameters": counts.frozen + counts.trainable,
            "trainableParameters": counts.trainable,
        }

    def _check_frozen(self) -> None:
        if self.module.training or any(p.requires_grad for p in self.module.parameters()):
            raise RuntimeError("the MAISI VAE must stay frozen (eval mode, no parameter requiring grad)")

    def encode(self, volume: Tensor) -> Tensor:
        """Latent means ``(B, 4, X/4, Y/4, Z/4)`` of ``(B, 1, X, Y, Z)`` volumes (no autograd graph)."""
        self._check_frozen()
        _check_divisible(volume, "volume")
        with torch.no_grad():
            z_mu, _ = cast(Any, self.module).encode(volume.to(self.device, torch.float32))
        return z_mu

    def decode(self, latent: Tensor) -> Tensor:
        """Volumes ``(B, 1, 4X, 4Y, 4Z)`` decoded from ``(B, 4, X, Y, Z)`` latents (no autograd graph)."""
        self._check_frozen()
        with torch.no_grad():
            out: Tensor = cast(Any, self.module).decode(latent.to(self.device, torch.float32))
        return out


def _check_divisible(volume: Tensor, name: str) -> None:
    if volume.ndim != 5 or volume.shape[1] != 1:
        raise ValueError(f"{name} must be (batch, 1, x, y, z), got {tuple(volume.shape)}")
    bad = [n for n in volume.shape[2:] if n % DOWNSAMPLE]
    if bad:
        raise ValueError(
            f"{name} shape {tuple(volume.shape[2:])} must be divisible by {DOWNSAMPLE} on every axis "
            "(the VAE downsamples twice by 2); crop or pad it"
        )
