"""The slice_interp family: each thin-slice volume of a prepared split thickened, interpolated back, scored.

The checkpoint loads once per shard (``recipes.slice_interp.inference.load_for_inference``: the
denoiser and the frozen VAE, whose weights must hash to what the checkpoint recorded). The VAE
weights are the spec's ``vaeWeights`` (absolute, or relative to the dataset root the worker
resolved) or else the trainer config's ``vae.weights``; a checkpoint trained on random VAE
weights rebuilds them from its recorded seed. The pair geometry (spacings, in-plane size, thin
slices per block, average or subsample) comes from the checkpoint's provenance, so the thick
input is made exactly as in training.

A case is one prepared volume (``manifest.json`` of ``hounsfield.data.volumes.prepare``), scored
by :func:`hounsfield.evaluation.slice_interpolation.interpolate_case`: ``psnr``, ``ssim`` of the
model and ``psnr_trilinear``, ``ssim_trilinear`` of the baseline, data range 1. DDIM runs
``ddimSteps`` steps (default: the checkpoint's) from noise seeded by the spec's ``seed`` plus the
case's plan index, so a case scores the same on whichever shard runs it. ``preview.png``: the
coronal reformat thick | trilinear | model | thin ground truth. The same evaluator runs without the
stack in ``python -m hounsfield.evaluation.interpolation_report``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from hounsfield.checkpoints.meta import read_meta
from hounsfield.contracts.models import (
    EvaluationShardContext,
    SliceInterpEvaluationSpec,
    VolumeEvaluationModels,
)
from hounsfield.data.volumes.prepare import VolumeCase, VolumePrepareConfig, load_manifest
from hounsfield.data.volumes.windowing import Window, resolve_window
from hounsfield.evaluation.case_plan import resolve_dataset_path
from hounsfield.evaluation.families import CaseScore, OptionValue, PlannedCase, select_cases, torch_device
from hounsfield.evaluation.preview import encode_png
from hounsfield.evaluation.slice_interpolation import interpolate_case
from hounsfield.recipes.runner import assemble_config
from hounsfield.recipes.slice_interp.pairs import PairGeometry

DATA_RANGE = 1.0  # volumes are windowed to [0, 1] for training and evaluation alike


class SliceInterpEvaluator:
    def __init__(
        self,
        spec: SliceInterpEvaluationSpec,
        model: Any,
        geometry: PairGeometry,
        steps: int,
        vae: Mapping[str, OptionValue],
        window: str | tuple[float, float],
        data_root: Path,
    ) -> None:
        self._spec = spec
        self._model = model
        self._geometry = geometry
        self._steps = steps
        self._vae = dict(vae)
        self._window = window
        self._prepared = data_root  # the worker resolved dataset.root (the shard job's data.root)
        self._by_id: dict[str, VolumeCase] | None = None

    def _cases(self) -> dict[str, VolumeCase]:
        if self._by_id is None:
            manifest = load_manifest(self._prepared)
            check_intensities(manifest.settings, self._window, self._prepared)
            split = {c.case_id: c for c in manifest.split(self._spec.dataset.split)}
            self._by_id = select_cases(split, self._spec.dataset)
        return self._by_id

    def cases(self) -> list[PlannedCase]:
        return [PlannedCase(i, self._spec.dataset.split) for i in self._cases()]

    def options(self) -> dict[str, OptionValue]:
        g = self._geometry
        return {
            "ddimSteps": self._steps,
            "thinSpacingMm": g.thin_spacing_mm,
            "thickSpacingMm": g.thick_spacing_mm,
            "thickMode": g.mode,
            "thinSlices": g.thin_slices,
            "inPlane": list(g.in_plane),
            "dataRange": DATA_RANGE,
            **self._vae,
        }

    def evaluate(self, case_id: str, index: int, scratch: Path) -> CaseScore:
        case = self._cases().get(case_id)
        if case is None:
            split = self._spec.dataset.split
            raise LookupError(f"case {case_id} is not in split {split} of {self._prepared}")
        started = time.perf_counter()
        seed = self._spec.seed + index

        def interpolate(thick: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
            thin = self._model.interpolate_xyz(torch.from_numpy(thick), steps=self._steps, seed=seed)
            return thin.cpu().numpy()  # type: ignore[no-any-return]

        volume = np.load(self._prepared / case.prepared)
        result = interpolate_case(
            interpolate, volume, case.spacing, self._geometry, case_id=case_id, data_range=DATA_RANGE
        )
        preview = scratch / "preview.png"
        preview.write_bytes(encode_png(np.repeat(result.preview[..., None], 3, axis=2)))
        return CaseScore(result.metrics, [preview], time.perf_counter() - started)


def _as_window(window: str | tuple[float, float] | Window) -> Window:
    return resolve_window(window if isinstance(window, str | Window) else Window(*window))


def check_intensities(settings: VolumePrepareConfig, window: str | tuple[float, float], where: Path) -> None:
    """The prepared volumes are windowed as the checkpoint's training volumes were, to ``[0, 1]``."""
    prepared, trained = _as_window(settings.window), _as_window(window)
    if settings.output_range != "0,1" or prepared != trained:
        raise ValueError(
            f"{where} was prepared with window level {prepared.level:g}, width {prepared.width:g} "
            f"to [{settings.output_range}], but the checkpoint was trained on level {trained.level:g}, "
            f"width {trained.width:g} to [0,1]; prepare the volumes with "
            f"--window={trained.level:g},{trained.width:g}"
        )


def vae_weights_path(spec: SliceInterpEvaluationSpec, config: Any, data_root: Path) -> Path | None:
    """The spec's ``vaeWeights`` (relative: under the dataset root), else the trainer config's."""
    if spec.vaeWeights is not None:
        path = resolve_dataset_path(spec.vaeWeights, data_root)
        if not path.is_file():
            raise FileNotFoundError(f"vaeWeights {spec.vaeWeights}: no file at {path}")
        return path
    weights: Path | None = config.vae.weights
    return weights


def open_checkpoint(
    spec: SliceInterpEvaluationSpec, checkpoint: Path, vae_weights: Path | None, data_root: Path
) -> SliceInterpEvaluator:
    """The evaluator of ``spec`` for one checkpoint directory, its VAE from ``vae_weights``."""
    from hounsfield.recipes.slice_interp.inference import load_for_inference
    from hounsfield.recipes.slice_interp.provenance import parse_provenance

    info = parse_provenance(read_meta(checkpoint).provenance, str(checkpoint))
    steps = spec.ddimSteps if spec.ddimSteps is not None else info.diffusion.ddim_steps
    if steps > info.diffusion.timesteps:
        raise ValueError(
            f"ddimSteps {steps} exceeds the checkpoint's {info.diffusion.timesteps} diffusion timesteps; "
            f"ask for at most {info.diffusion.timesteps}"
        )
    model = load_for_inference(checkpoint, vae_weights, torch_device(spec.device))
    vae: dict[str, OptionValue] = {"vaePretrained": info.vae_pretrained, "vaeSha256": info.vae_sha256}
    return SliceInterpEvaluator(spec, model, info.pairs.geometry(), steps, vae, info.window, data_root)


def load(
    context: EvaluationShardContext, checkpoints: Mapping[str, Path], data_root: Path, work_dir: Path
) -> SliceInterpEvaluator:
    from hounsfield.recipes.slice_interp.recipe import RECIPE

    spec, models = context.spec, context.models
    assert isinstance(spec, SliceInterpEvaluationSpec) and isinstance(models, VolumeEvaluationModels)
    config = assemble_config(RECIPE, models.model.config, {}, {})
    weights = vae_weights_path(spec, config, data_root)
    return open_checkpoint(spec, checkpoints["model"], weights, data_root)
