"""The vqgan3d family: each volume of a prepared split reconstructed whole and scored.

Weights load once per shard; a case is one prepared volume (``manifest.json`` of
``hounsfield.data.volumes.prepare``), reconstructed through the overlap blending with the
checkpoint config's ``volumes`` settings (the spec's patch/stride/blend/patchesInFlight replace
them) and scored by ``evaluation.reconstruction.reconstruct_case``: PSNR, SSIM, codebook
perplexity and usage. ``preview.png``: mid axial slice of input | reconstruction | |difference|.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hounsfield.checkpoints.weights import load_weights
from hounsfield.contracts.models import EvaluationShardContext, VolumeEvaluationModels, Vqgan3dEvaluationSpec
from hounsfield.data.volumes.prepare import VolumeCase, load_manifest
from hounsfield.data.volumes.windowing import output_data_range
from hounsfield.evaluation.families import (
    CaseScore,
    OptionValue,
    PlannedCase,
    numbers,
    select_cases,
    torch_device,
)
from hounsfield.evaluation.preview import encode_png
from hounsfield.evaluation.reconstruction import reconstruct_case
from hounsfield.recipes.runner import assemble_config


def volumes_settings(config: Any, spec: Vqgan3dEvaluationSpec) -> Any:
    """The checkpoint config's ``volumes`` with the spec's options in place of its own."""
    update: dict[str, Any] = {}
    if spec.patch is not None:
        update["patch"] = tuple(int(n) for n in numbers(spec.patch))
    if spec.stride is not None:
        update["stride"] = tuple(int(n) for n in numbers(spec.stride))
    if spec.blend is not None:
        update["blend"] = spec.blend
    if spec.patchesInFlight is not None:
        update["patches_in_flight"] = spec.patchesInFlight
    volumes = config.volumes.model_copy(update=update)
    if any(s > p for s, p in zip(volumes.stride, volumes.patch, strict=True)):
        raise ValueError(f"stride {volumes.stride} leaves gaps between patches {volumes.patch}")
    return volumes


class Vqgan3dEvaluator:
    def __init__(self, spec: Vqgan3dEvaluationSpec, model: Any, config: Any, data_root: Path) -> None:
        self._spec = spec
        self._model = model
        self._n_codes = int(config.model.n_codes)
        self._volumes = volumes_settings(config, spec)
        self._device = torch_device(spec.device)
        self._prepared = data_root  # the worker resolved dataset.root (the shard job's data.root)
        self._by_id: dict[str, VolumeCase] | None = None

    def _cases(self) -> dict[str, VolumeCase]:
        if self._by_id is None:
            manifest = load_manifest(self._prepared)
            split = {c.case_id: c for c in manifest.split(self._spec.dataset.split)}
            self._by_id = select_cases(split, self._spec.dataset)
        return self._by_id

    def cases(self) -> list[PlannedCase]:
        return [PlannedCase(i, self._spec.dataset.split) for i in self._cases()]

    def options(self) -> dict[str, OptionValue]:
        v = self._volumes
        return {
            "patch": list(v.patch),
            "stride": list(v.stride),
            "blend": v.blend,
            "patchesInFlight": v.patches_in_flight,
            "outputRange": v.output_range,
            "dataRange": output_data_range(v.output_range),
        }

    def evaluate(self, case_id: str, index: int, scratch: Path) -> CaseScore:
        case = self._cases().get(case_id)
        if case is None:
            split = self._spec.dataset.split
            raise LookupError(f"case {case_id} is not in split {split} of {self._prepared}")
        started = time.perf_counter()
        volume = np.load(self._prepared / case.prepared)
        result = reconstruct_case(self._model, volume, self._volumes, self._n_codes, self._device)
        preview = scratch / "preview.png"
        preview.write_bytes(encode_png(np.repeat(result.preview[..., None], 3, axis=2)))
        return CaseScore(result.metrics, [preview], time.perf_counter() - started)


def load_model(config_input: Mapping[str, Any], checkpoint: Path) -> tuple[Any, Any]:
    """The trainer config (preset + the job's overrides) and the model with the checkpoint's weights."""
    from hounsfield.recipes.vqgan3d.recipe import RECIPE, build_model

    config = assemble_config(RECIPE, config_input, {}, {})
    model = build_model(config).eval()
    load_weights(model, checkpoint)
    return config, model


def load(
    context: EvaluationShardContext, checkpoints: Mapping[str, Path], data_root: Path, work_dir: Path
) -> Vqgan3dEvaluator:
    spec, models = context.spec, context.models
    assert isinstance(spec, Vqgan3dEvaluationSpec) and isinstance(models, VolumeEvaluationModels)
    config, model = load_model(models.model.config, checkpoints["model"])
    return Vqgan3dEvaluator(spec, model.to(torch_device(spec.device)), config, data_root)
