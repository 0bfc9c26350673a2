"""``python -m hounsfield.recipes.topo_unet.evaluate``: score a checkpoint on a split, with previews.

For every case of the split (the last ``--held-out`` ids of ``<data-root>/images``, as training
holds them out, or ``--split all``) the volume is predicted whole like ``infer`` does, scored with
``evaluation.topology.topology_report`` (Dice, clDice, surface Dice at τ, VOI, Betti numbers and
their errors, the challenge-style composite), and previewed as one PNG: the axial slice with the
most surface, ``input | prediction | label``, the prediction coloured by agreement (white: both,
red: predicted only, blue: missed, grey: unlabelled). The output directory gets::

    report.json   per-case metrics, and the mean / standard deviation / min / max of each
    report.md     the same as tables, each case linking its preview
    previews/<case>.png

The evaluation service runs the same per-case computation (:func:`score_case`) on its shards:
``hounsfield.evaluation.families.topo_unet``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from hounsfield.data.errors import DataError
from hounsfield.evaluation.topology import CHALLENGE_TAU, LABEL_IGNORE, LABEL_SURFACE, topology_report
from hounsfield.recipes.topo_unet.cases import CaseFiles, find_cases, intensity_stats
from hounsfield.recipes.topo_unet.config import InferenceConfig
from hounsfield.recipes.topo_unet.infer import InferenceError, load_checkpoint
from hounsfield.recipes.topo_unet.inference import predict_probabilities, to_mask
from hounsfield.recipes.topo_unet.io import open_volume

_log = logging.getLogger(__name__)

#: RGB of the agreement overlay.
BOTH, PREDICTED_ONLY, MISSED, UNLABELLED = (255, 255, 255), (230, 40, 40), (40, 110, 255), (110, 110, 110)
PREVIEW_HEIGHT = 256


def preview(
    image: npt.NDArray[np.float32], mask: npt.NDArray[np.uint8], labels: npt.NDArray[np.uint8]
) -> Image.Image:
    """``input | prediction (agreement colours) | label`` at the axial slice with the most surface."""
    z = int(np.argmax((labels == LABEL_SURFACE).sum(axis=(1, 2))))
    section = image[z]
    lo, hi = np.percentile(section, [1, 99])
    grey = (np.clip((section - lo) / max(hi - lo, 1e-6), 0, 1) * 255).astype(np.uint8)
    left = np.repeat(grey[..., None], 3, axis=2)
    truth, predicted, ignored = labels[z] == LABEL_SURFACE, mask[z] > 0, labels[z] == LABEL_IGNORE
    middle = np.zeros_like(left)
    middle[ignored] = UNLABELLED
    middle[predicted & truth] = BOTH
    middle[predicted & ~truth & ~ignored] = PREDICTED_ONLY
    middle[~predicted & truth] = MISSED
    right = np.zeros_like(left)
    right[truth] = BOTH
    right[ignored] = UNLABELLED
    gap = np.full((left.shape[0], 2, 3), 60, dtype=np.uint8)
    panel = Image.fromarray(np.concatenate([left, gap, middle, gap, right], axis=1))
    scale = max(1, -(-PREVIEW_HEIGHT // panel.height))  # small volumes: enlarge, voxels stay sharp
    return panel.resize((panel.width * scale, panel.height * scale), Image.Resampling.NEAREST)


def aggregate(rows: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    names = sorted({name for row in rows.values() for name in row})
    out = {}
    for name in names:
        values = np.array([row[name] for row in rows.values()], dtype=np.float64)
        out[name] = {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
        }
    return out


def markdown(rows: Mapping[str, Mapping[str, float]], summary: Mapping[str, Mapping[str, float]]) -> str:
    shown = ["dice", "cldice", "surface_dice", "voi", "b0_error", "b1_error", "b2_error", "score"]
    lines = ["# topo_unet evaluation", "", "| metric | mean | std | min | max |", "|---|---|---|---|---|"]
    lines += [
        f"| {m} | {summary[m]['mean']:.4f} | {summary[m]['std']:.4f} | {summary[m]['min']:.4f} | "
        f"{summary[m]['max']:.4f} |"
        for m in shown
    ]
    lines += ["", "| case | " + " | ".join(shown) + " | preview |", "|---" * (len(shown) + 2) + "|"]
    for case, row in rows.items():
        cells = " | ".join(f"{row[m]:.4f}" for m in shown)
        lines.append(f"| {case} | {cells} | ![{case}](previews/{case}.png) |")
    return "\n".join(lines) + "\n"


def score_case(
    network: torch.nn.Module,
    patch: tuple[int, int, int],
    config: InferenceConfig,
    case: CaseFiles,
    tiff_spacing: tuple[float, float, float],
    device: torch.device,
    tau_mm: float = CHALLENGE_TAU,
) -> tuple[dict[str, float], Image.Image]:
    """One case predicted whole, scored by ``topology_report`` at ``tau_mm``, and its preview."""
    image_volume, geometry = open_volume(case.image)
    mean, std = intensity_stats(image_volume, geometry.shape)
    image = (np.asarray(image_volume[:, :, :], dtype=np.float32) - mean) / std
    labels = np.asarray(open_volume(case.labels)[0][:, :, :], dtype=np.uint8)
    mask = to_mask(predict_probabilities(network, image, patch, config, device), config)
    case_spacing = geometry.spacing if geometry.format != "tiff" else tiff_spacing
    return topology_report(mask, labels, case_spacing, tau_mm), preview(image, mask, labels)


def evaluate(
    checkpoint: Path,
    data_root: Path,
    output: Path,
    held_out: int | None,
    spacing: tuple[float, float, float],
    device: torch.device,
    inference_overrides: Mapping[str, object] | None = None,
) -> dict[str, object]:
    network, patch, config = load_checkpoint(checkpoint, device)
    if inference_overrides:
        config = InferenceConfig.model_validate(config.model_dump() | dict(inference_overrides))
    cases = find_cases(data_root, "images", "labels")
    if held_out is not None:
        if not 0 < held_out <= len(cases):
            raise InferenceError(
                f"--held-out {held_out}: choose 1..{len(cases)} (there are {len(cases)} cases)"
            )
        cases = cases[-held_out:]
    (output / "previews").mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, float]] = {}
    for case in cases:
        rows[case.case_id], image = score_case(network, patch, config, case, spacing, device)
        image.save(output / "previews" / f"{case.case_id}.png")
        _log.info("%s: %s", case.case_id, ", ".join(f"{k}={v:.4g}" for k, v in rows[case.case_id].items()))
    summary = aggregate(rows)
    report: dict[str, object] = {"checkpoint": str(checkpoint), "cases": rows, "aggregate": summary}
    (output / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (output / "report.md").write_text(markdown(rows, summary))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hounsfield.recipes.topo_unet.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data-root", type=Path, required=True, help="holds images/ and labels/")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument(
        "--held-out", type=int, default=2, help="evaluate the last N cases (the validation split)"
    )
    parser.add_argument("--split", choices=["held-out", "all"], default="held-out")
    parser.add_argument("--spacing", type=float, nargs=3, default=(1.0, 1.0, 1.0), help="for TIFF inputs")
    parser.add_argument("--min-component-voxels", type=int)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = (
        {} if args.min_component_voxels is None else {"min_component_voxels": args.min_component_voxels}
    )
    try:
        evaluate(
            args.checkpoint,
            args.data_root,
            args.output,
            None if args.split == "all" else args.held_out,
            tuple(args.spacing),
            torch.device(args.device),
            overrides,
        )
    except (InferenceError, DataError, ValueError) as error:
        _log.error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
