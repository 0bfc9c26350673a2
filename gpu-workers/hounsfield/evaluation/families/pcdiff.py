"""The PCDiff family: implants sampled, voted, post-processed and scored (``evaluation.pipeline``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hounsfield.contracts.models import EvaluationShardContext, PcdiffEvaluationModels, PcdiffEvaluationSpec
from hounsfield.data.cases import SkullCase
from hounsfield.data.volume_io import write_mask_nrrd
from hounsfield.evaluation.case_plan import planned_cases
from hounsfield.evaluation.families import CaseScore, OptionValue, PlannedCase
from hounsfield.evaluation.pipeline import ImplantNetworks, evaluate_case, load_case, sampler_config
from hounsfield.evaluation.postprocess import PostprocessOptions
from hounsfield.evaluation.preview import preview_png


def postprocess_options(spec: PcdiffEvaluationSpec) -> PostprocessOptions:
    """The spec's camelCase post-processing fields as PostprocessOptions (unset = default)."""
    given = spec.postprocess.model_dump(exclude_none=True)
    return PostprocessOptions(
        **{re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in given.items()}
    )


def case_seed(spec: PcdiffEvaluationSpec, index: int) -> int:
    """The seed of one case: the same on every shard and every redelivery."""
    return spec.seed * 1_000_003 + index


class PcdiffEvaluator:
    def __init__(
        self, spec: PcdiffEvaluationSpec, networks: ImplantNetworks, data_root: Path, work_dir: Path
    ) -> None:
        self._spec = spec
        self._networks = networks
        self._data_root = data_root
        self._cache = work_dir / "cache"
        sampler = spec.sampler
        self._sampler = sampler_config(
            sampler.method, sampler.steps, sampler.eta, sampler.tStart, sampler.clipX0, spec.ensembleSize
        )
        self._postprocess = postprocess_options(spec)
        self._cases: dict[str, SkullCase] = {}

    def _by_id(self) -> dict[str, SkullCase]:
        if not self._cases:
            self._cases = {c.case_id: c for c in planned_cases(self._spec.dataset, self._data_root)}
        return self._cases

    def cases(self) -> list[PlannedCase]:
        return [PlannedCase(c.case_id, c.defect_class) for c in self._by_id().values()]

    def options(self) -> dict[str, OptionValue]:
        return {}  # every PCDiff setting is in the spec

    def evaluate(self, case_id: str, index: int, scratch: Path) -> CaseScore:
        case = self._by_id().get(case_id)
        if case is None:
            raise LookupError(f"case {case_id} is not in the dataset under {self._data_root}")
        seed = case_seed(self._spec, index)
        inputs = load_case(case, self._networks, self._cache, seed)
        outcome = evaluate_case(self._networks, inputs, self._sampler, self._postprocess, seed)
        implant = scratch / "implant.nrrd"
        write_mask_nrrd(implant, outcome.implant.astype(np.uint8), outcome.spacing_mm)
        points = scratch / "points.npy"
        np.save(points, outcome.implant_points_vox)
        preview = scratch / "preview.png"
        preview.write_bytes(preview_png(inputs.defective, outcome.implant.astype(bool)))
        return CaseScore(outcome.metrics, [implant, points, preview], outcome.seconds, outcome.fallback)


def load(
    context: EvaluationShardContext, checkpoints: Mapping[str, Path], data_root: Path, work_dir: Path
) -> PcdiffEvaluator:
    spec, models = context.spec, context.models
    assert isinstance(spec, PcdiffEvaluationSpec) and isinstance(models, PcdiffEvaluationModels)
    networks = ImplantNetworks.load(
        checkpoints["diffusion"],
        models.diffusion.config,
        checkpoints["voxelization"],
        models.voxelization.config,
        spec.weights,
    )
    return PcdiffEvaluator(spec, networks, data_root, work_dir)
