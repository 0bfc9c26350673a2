"""``python -m hounsfield.recipes.topo_unet.infer``: predict surface masks of whole volumes.

Loads a topo_unet checkpoint (the network's config travels in its ``meta.json`` provenance),
z-scores each input volume, predicts it with Gaussian-blended sliding windows, thresholds it,
optionally removes components smaller than ``--min-component-voxels``, and writes the mask in the
input's format with its geometry (NIfTI affine and header, NRRD space fields, TIFF page order)::

    python -m hounsfield.recipes.topo_unet.infer --checkpoint run/checkpoints/step-000002000 \\
        --input scans/ --output masks/

On the platform this runs as a ``script`` job with the checkpoint and the volumes as inputs.
Exit 2 with a message naming the argument when an input or the checkpoint cannot be used.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from hounsfield.checkpoints.layout import MODEL_FILE
from hounsfield.checkpoints.meta import read_meta
from hounsfield.checkpoints.weights import load_weights
from hounsfield.data.errors import DataError
from hounsfield.recipes.topo_unet.cases import case_id_of, intensity_stats, is_volume_file
from hounsfield.recipes.topo_unet.config import InferenceConfig, TopoModelConfig
from hounsfield.recipes.topo_unet.inference import predict_probabilities, to_mask
from hounsfield.recipes.topo_unet.io import open_volume, write_mask_like
from hounsfield.recipes.topo_unet.model import build_network
from hounsfield.recipes.topo_unet.recipe import META_INFERENCE, META_MODEL, META_PATCH

_log = logging.getLogger(__name__)


class InferenceError(ValueError):
    """A bad argument or checkpoint; the message names it."""


def load_checkpoint(
    path: Path, device: torch.device
) -> tuple[torch.nn.Module, tuple[int, int, int], InferenceConfig]:
    meta = read_meta(path)
    provenance = meta.provenance or {}
    if META_MODEL not in provenance:
        raise InferenceError(
            f"--checkpoint {path}: not a topo_unet checkpoint (no {META_MODEL} in meta.json)"
        )
    network = build_network(TopoModelConfig.model_validate_json(provenance[META_MODEL]))
    load_weights(network, path)
    patch = tuple(json.loads(provenance[META_PATCH]))
    inference = InferenceConfig.model_validate_json(provenance[META_INFERENCE])
    return network.to(device).eval(), (int(patch[0]), int(patch[1]), int(patch[2])), inference


def infer_volume(
    network: torch.nn.Module,
    source: Path,
    target: Path,
    patch: tuple[int, int, int],
    config: InferenceConfig,
    device: torch.device,
) -> Path:
    image, geometry = open_volume(source)
    mean, std = intensity_stats(image, geometry.shape)
    normalised = (np.asarray(image[:, :, :], dtype=np.float32) - mean) / std
    mask = to_mask(predict_probabilities(network, normalised, patch, config, device), config)
    return write_mask_like(target, mask, geometry)


def _targets(source: Path, output: Path) -> list[tuple[Path, Path]]:
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if is_volume_file(p))
        if not files:
            raise InferenceError(f"--input {source}: no volumes in it")
        return [(p, output / p.name) for p in files]
    if not source.exists():
        raise InferenceError(f"--input {source} does not exist")
    return [(source, output / source.name if output.is_dir() or not output.suffix else output)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hounsfield.recipes.topo_unet.infer", description=__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True, help="a checkpoint directory (step-*)")
    parser.add_argument("--input", type=Path, required=True, help="a volume or a directory of volumes")
    parser.add_argument("--output", type=Path, required=True, help="a directory (or a file for one input)")
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--min-component-voxels", type=int)
    parser.add_argument("--overlap", type=float)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    device = torch.device(args.device)
    try:
        if not (args.checkpoint / MODEL_FILE).exists():
            raise InferenceError(f"--checkpoint {args.checkpoint}: no {MODEL_FILE} in it")
        network, patch, config = load_checkpoint(args.checkpoint, device)
        changes = {
            "threshold": args.threshold,
            "min_component_voxels": args.min_component_voxels,
            "overlap": args.overlap,
        }
        config = config.model_copy(update={k: v for k, v in changes.items() if v is not None})
        InferenceConfig.model_validate(config.model_dump())
        for source, target in _targets(args.input, args.output):
            written = infer_volume(network, source, target, patch, config, device)
            _log.info("%s -> %s (case %s)", source, written, case_id_of(source))
    except (InferenceError, DataError, ValueError) as error:
        _log.error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
