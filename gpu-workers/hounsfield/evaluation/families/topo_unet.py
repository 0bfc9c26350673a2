"""The topo_unet family: each case predicted whole, thresholded and scored by the topology metrics.

Weights, patch and inference settings load once per shard from the checkpoint (its meta carries
them; the spec's threshold and minComponentVoxels replace the checkpoint's). The cases are the
dataset's ``images/`` + ``labels/`` pairs (folder names from the trainer config), the last
``data.validationCases`` of them for split ``validation`` as the training held them out. Each is
scored by ``recipes.topo_unet.evaluate.score_case`` (Dice, clDice, surface Dice at
``surfaceToleranceMm``, VOI, Betti numbers and errors; label 2 ignored). ``preview.png``: the
slice with the most surface, input | prediction | label, the prediction white where it agrees,
red for false positives, blue for missed surface, grey where unlabelled.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hounsfield.contracts.models import EvaluationShardContext, TopoUnetEvaluationSpec, VolumeEvaluationModels
from hounsfield.evaluation.families import (
    CaseScore,
    OptionValue,
    PlannedCase,
    numbers,
    select_cases,
    torch_device,
)
from hounsfield.recipes.runner import assemble_config
from hounsfield.recipes.topo_unet.cases import CaseFiles, find_cases, split_cases
from hounsfield.recipes.topo_unet.config import InferenceConfig
from hounsfield.recipes.topo_unet.evaluate import score_case
from hounsfield.recipes.topo_unet.infer import load_checkpoint


class TopoUnetEvaluator:
    def __init__(
        self,
        spec: TopoUnetEvaluationSpec,
        network: Any,
        patch: tuple[int, int, int],
        inference: InferenceConfig,
        config: Any,
        data_root: Path,
    ) -> None:
        self._spec = spec
        self._network = network
        self._patch = patch
        update: dict[str, Any] = {}
        if spec.threshold is not None:
            update["threshold"] = spec.threshold
        if spec.minComponentVoxels is not None:
            update["min_component_voxels"] = spec.minComponentVoxels
        self._inference = InferenceConfig.model_validate(inference.model_dump() | update)
        self._config = config
        self._root = data_root  # the worker resolved dataset.root (the shard job's data.root)
        self._device = torch_device(spec.device)
        self._by_id: dict[str, CaseFiles] | None = None

    def _cases(self) -> dict[str, CaseFiles]:
        if self._by_id is None:
            data = self._config.data
            found = find_cases(self._root, data.images_dir, data.labels_dir)
            if self._spec.dataset.split == "validation":
                found = split_cases(found, data.validation_cases)[1]
            self._by_id = select_cases({c.case_id: c for c in found}, self._spec.dataset)
        return self._by_id

    def cases(self) -> list[PlannedCase]:
        return [PlannedCase(i, self._spec.dataset.split) for i in self._cases()]

    def options(self) -> dict[str, OptionValue]:
        return {
            "threshold": self._inference.threshold,
            "minComponentVoxels": self._inference.min_component_voxels,
            "surfaceToleranceMm": self._spec.surfaceToleranceMm,
            "patch": list(self._patch),
            "overlap": self._inference.overlap,
        }

    def evaluate(self, case_id: str, index: int, scratch: Path) -> CaseScore:
        case = self._cases().get(case_id)
        if case is None:
            raise LookupError(f"case {case_id} is not in split {self._spec.dataset.split} of {self._root}")
        started = time.perf_counter()
        spacing = numbers(self._spec.dataset.tiffSpacing)
        metrics, image = score_case(
            self._network,
            self._patch,
            self._inference,
            case,
            (spacing[0], spacing[1], spacing[2]),
            self._device,
            self._spec.surfaceToleranceMm,
        )
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        preview = scratch / "preview.png"
        preview.write_bytes(buffer.getvalue())
        return CaseScore(metrics, [preview], time.perf_counter() - started)


def load(
    context: EvaluationShardContext, checkpoints: Mapping[str, Path], data_root: Path, work_dir: Path
) -> TopoUnetEvaluator:
    from hounsfield.recipes.topo_unet.recipe import RECIPE

    spec, models = context.spec, context.models
    assert isinstance(spec, TopoUnetEvaluationSpec) and isinstance(models, VolumeEvaluationModels)
    network, patch, inference = load_checkpoint(checkpoints["model"], torch_device(spec.device))
    config = assemble_config(RECIPE, models.model.config, {}, {})
    return TopoUnetEvaluator(spec, network, patch, inference, config, data_root)
