"""The ``topo_unet`` recipe: a topology-aware 3-D U-Net for thin surfaces (issue #15).

Cases are prepared once (skeleton tubes, signed distance maps, foreground coordinates and
intensity statistics cached per case), patches are slices of them plus MONAI augmentations, and
the loss is weighted BCE + soft Dice + clDice + skeleton recall + boundary loss over the
deep-supervision heads, each term reported as ``loss.<term>``. Validation predicts every held-out
volume with Gaussian-blended sliding windows and reports ``val.dice``, ``val.cldice``,
``val.surface_dice``, ``val.voi``, ``val.b{0,1,2}_error`` and the challenge-style ``val.score``.
Examples::

    python -m hounsfield.recipes.topo_unet --preset cpu-tiny --steps 20
    python -m hounsfield.recipes.topo_unet --preset vesuvius --data-root /data/vesuvius
"""

from __future__ import annotations

import json

import numpy as np
from torch import Tensor, nn

from hounsfield.evaluation.topology import topology_report
from hounsfield.recipes.base import BuildContext, Recipe
from hounsfield.recipes.topo_unet import KIND, VERSION
from hounsfield.recipes.topo_unet.cases import (
    PreparedCase,
    dataset_root,
    find_cases,
    prepare_case,
    split_cases,
)
from hounsfield.recipes.topo_unet.config import PRESETS, TopoUNetTrainConfig
from hounsfield.recipes.topo_unet.inference import predict_probabilities, to_mask
from hounsfield.recipes.topo_unet.model import build_network, topo_loss
from hounsfield.recipes.topo_unet.sampling import DeviceSpatialAugment, PatchDataset
from hounsfield.trainers.parts import (
    Batch,
    LossOutput,
    TrainingParts,
    ValidationRequest,
    ValidationResult,
    Validator,
    unwrap,
)

#: Provenance keys a checkpoint carries so inference can rebuild the network without the run dir.
META_MODEL, META_PATCH, META_INFERENCE = "topo_unet.model", "topo_unet.patch", "topo_unet.inference"


def case_metrics(
    network: nn.Module, case: PreparedCase, config: TopoUNetTrainConfig, device
) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Every topology metric of one whole held-out volume."""
    image = (np.asarray(case.image[:, :, :], dtype=np.float32) - case.mean) / case.std
    probabilities = predict_probabilities(network, image, config.data.patch, config.inference, device)
    mask = to_mask(probabilities, config.inference)
    spacing = case.geometry.spacing if case.geometry.format != "tiff" else config.data.spacing
    return topology_report(mask, np.asarray(case.labels[:, :, :]), spacing)


def validator(cases: list[PreparedCase], config: TopoUNetTrainConfig) -> Validator:
    def validate(request: ValidationRequest) -> ValidationResult:
        sums: dict[str, float] = {}
        mine = request.shard(cases)
        for case in mine:
            for name, value in case_metrics(unwrap(request.model), case, config, request.device).items():
                sums[name] = sums.get(name, 0.0) + value
        return ValidationResult(sums=sums, count=len(mine))

    return validate


def build(config: TopoUNetTrainConfig, ctx: BuildContext) -> TrainingParts:
    root = dataset_root(config, ctx.output_dir)
    cache = config.cache_dir or ctx.output_dir / "cache"
    training, held_out = split_cases(
        find_cases(root, config.data.images_dir, config.data.labels_dir), config.data.validation_cases
    )
    prepared = [prepare_case(files, cache, config) for files in training]
    validation = [prepare_case(files, cache, config) for files in held_out]
    network = build_network(config.model).to(ctx.device)

    on_device = DeviceSpatialAugment(config.augment) if config.augment.spatial_on == "device" else None

    def loss_fn(model: nn.Module, batch: Batch, step: int) -> Tensor | LossOutput:
        return topo_loss(model, on_device(batch) if on_device else batch, config.loss)

    provenance = {
        META_MODEL: config.model.model_dump_json(by_alias=True),
        META_PATCH: json.dumps(list(config.data.patch)),
        META_INFERENCE: config.inference.model_dump_json(by_alias=True),
    }
    return TrainingParts(
        model=network,
        loss_fn=loss_fn,
        dataset=PatchDataset(prepared, config.data, config.augment),
        validate=validator(validation, config) if validation else None,
        checkpoint_meta=provenance,
    )


RECIPE = Recipe[TopoUNetTrainConfig](
    kind=KIND,
    version=VERSION,
    description=__doc__ or "",
    config=TopoUNetTrainConfig,
    presets=PRESETS,
    build=build,
)
