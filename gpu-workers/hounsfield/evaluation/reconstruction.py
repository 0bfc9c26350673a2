"""Reconstruction evaluation of a ``vqgan3d`` checkpoint on a prepared split, with a report.

Each volume of the split is reconstructed whole through the overlap blending (the checkpoint's
``volumes.patch``/``stride``/``blend``), clipped to the windowed range, and scored: PSNR and 3-D
SSIM (data range = the range's span), codebook perplexity and fraction of codes used on that
volume. The report directory gets ``report.md`` (mean ± std per metric, one row per case linking
its preview), ``report.yaml``, ``cases.csv`` and ``previews/<case>.png``: the mid axial slice of
input | reconstruction | absolute difference (the difference scaled by the data range).

``python -m hounsfield.evaluation.reconstruction CHECKPOINT_DIR --prepared DIR --split test --out
REPORT_DIR`` (the run's ``config.json`` beside ``checkpoints/`` gives the model config).

The evaluation service fans the same per-case computation (:func:`reconstruct_case`) out over
shards: ``hounsfield.evaluation.families.vqgan3d``.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import yaml

from hounsfield.checkpoints.weights import load_weights
from hounsfield.data.patches import sliding_window_reconstruct
from hounsfield.data.volumes.prepare import VolumeCase, load_manifest, manifest_hash
from hounsfield.data.volumes.windowing import output_data_range
from hounsfield.evaluation.codebook import codebook_perplexity, codebook_usage
from hounsfield.evaluation.image_quality import metric_summary, psnr, ssim3d

METRICS = ("psnr", "ssim", "perplexity", "codes_used")


@dataclass(frozen=True)
class CaseScore:
    case_id: str
    patient_id: str
    psnr: float
    ssim: float
    perplexity: float
    codes_used: float
    preview: str


@dataclass(frozen=True)
class ReconstructionReport:
    checkpoint: str
    split: str
    data_range: float
    cases: list[CaseScore]
    summary: dict[str, dict[str, float]]  # metric -> mean, std, median


def preview_image(
    ref: npt.NDArray[Any], recon: npt.NDArray[Any], low: float, data_range: float
) -> npt.NDArray[np.uint8]:
    """The mid axial slice of input | reconstruction | |difference| as one 8-bit image (rows = y)."""
    k = ref.shape[2] // 2
    panels = [ref[:, :, k], recon[:, :, k]]
    unit = [(p - low) / data_range for p in panels] + [np.abs(ref[:, :, k] - recon[:, :, k]) / data_range]
    row = np.concatenate([np.clip(u, 0, 1).T for u in unit], axis=1)
    return np.round(row * 255).astype(np.uint8)


@dataclass(frozen=True)
class CaseReconstruction:
    """One volume's scores and its preview (mid axial slice, 8-bit grey)."""

    metrics: dict[str, float]  # METRICS
    preview: npt.NDArray[np.uint8]


def reconstruct_case(
    model: torch.nn.Module,
    volume: npt.NDArray[np.float32],
    volumes_config: Any,
    n_codes: int,
    device: torch.device,
) -> CaseReconstruction:
    """Reconstruct one prepared volume whole through the blending and score it (see module docstring)."""
    data_range = output_data_range(volumes_config.output_range)
    low = -1.0 if volumes_config.output_range == "-1,1" else 0.0
    tensor = torch.from_numpy(np.asarray(volume, dtype=np.float32))[None, None]
    codes: list[torch.Tensor] = []

    def predict(x: torch.Tensor) -> torch.Tensor:
        recon, _, idx = model(x)
        codes.append(idx.flatten().cpu())
        return recon  # type: ignore[no-any-return]

    with torch.no_grad():
        recon = sliding_window_reconstruct(
            tensor,
            predict,
            volumes_config.patch,
            volumes_config.stride,
            mode=volumes_config.blend,
            patches_in_flight=volumes_config.patches_in_flight,
            device=device,
        )
    ref = tensor[0, 0].numpy()
    out = recon[0, 0].clamp(low, low + data_range).numpy()
    used = torch.cat(codes).numpy()
    metrics = {
        "psnr": psnr(out, ref, data_range),
        "ssim": ssim3d(out, ref, data_range),
        "perplexity": codebook_perplexity(used, n_codes),
        "codes_used": codebook_usage(used, n_codes),
    }
    return CaseReconstruction(metrics=metrics, preview=preview_image(ref, out, low, data_range))


def evaluate_cases(
    model: torch.nn.Module,
    prepared: Path,
    cases: Sequence[VolumeCase],
    volumes_config: Any,
    n_codes: int,
    out_dir: Path,
    device: torch.device,
) -> list[CaseScore]:
    """Score every case and write its preview under ``out_dir/previews``."""
    from PIL import Image

    (out_dir / "previews").mkdir(parents=True, exist_ok=True)
    scores = []
    for case in cases:
        result = reconstruct_case(model, np.load(prepared / case.prepared), volumes_config, n_codes, device)
        name = case.case_id.replace("/", "_")
        preview = f"previews/{name}.png"
        Image.fromarray(result.preview).save(out_dir / preview)
        scores.append(
            CaseScore(
                case_id=case.case_id,
                patient_id=case.patient_id,
                psnr=result.metrics["psnr"],
                ssim=result.metrics["ssim"],
                perplexity=result.metrics["perplexity"],
                codes_used=result.metrics["codes_used"],
                preview=preview,
            )
        )
    return scores


def summarise(scores: Sequence[CaseScore]) -> dict[str, dict[str, float]]:
    """Mean, population std and median of each metric over the cases (finite values only)."""
    return metric_summary(METRICS, [{metric: getattr(s, metric) for metric in METRICS} for s in scores])


def write_report(report: ReconstructionReport, out_dir: Path) -> None:
    """``report.md``, ``report.yaml`` and ``cases.csv`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "cases.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case_id", "patient_id", *METRICS, "preview"])
        for s in report.cases:
            writer.writerow([s.case_id, s.patient_id, *(f"{getattr(s, m):.6g}" for m in METRICS), s.preview])
    (out_dir / "report.yaml").write_text(yaml.safe_dump(asdict(report), sort_keys=False), encoding="utf-8")
    cell = lambda m: (  # noqa: E731
        f"{report.summary[m]['mean']:.4g} ± {report.summary[m]['std']:.4g}" if m in report.summary else "–"
    )
    lines = [
        "# Reconstruction evaluation",
        "",
        f"- checkpoint: {report.checkpoint}",
        f"- split: {report.split}, {len(report.cases)} volumes; PSNR/SSIM on windowed intensities, "
        f"data range {report.data_range:g}",
        "",
        f"| | {' | '.join(METRICS)} |",
        f"|---|{'|'.join('---:' for _ in METRICS)}|",
        f"| **mean ± std** | {' | '.join(cell(m) for m in METRICS)} |",
        *(
            f"| [{s.case_id}]({s.preview}) | {s.psnr:.2f} | {s.ssim:.4f} | {s.perplexity:.1f} "
            f"| {s.codes_used:.3f} |"
            for s in report.cases
        ),
        "",
        "Previews (mid axial slice: input | reconstruction | absolute difference):",
        "",
        *(f"![{s.case_id}]({s.preview})" for s in report.cases),
        "",
    ]
    (out_dir / "report.md").write_text("\n".join(lines), encoding="utf-8")


def evaluate_checkpoint(
    checkpoint: Path,
    prepared: Path,
    out_dir: Path,
    *,
    split: str = "test",
    run_config: Path | None = None,
    device: str = "cpu",
    max_cases: int | None = None,
) -> ReconstructionReport:
    """Evaluate ``checkpoint`` (a vqgan3d checkpoint directory) on ``split`` of ``prepared``."""
    from hounsfield.recipes.vqgan3d.config import VQGAN3DConfig
    from hounsfield.recipes.vqgan3d.recipe import build_model

    config_path = run_config or checkpoint.parent.parent / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path}: the run's config.json (pass run_config / --config)")
    config = VQGAN3DConfig.model_validate(json.loads(config_path.read_text(encoding="utf-8"))["config"])
    target = torch.device(device)
    model = build_model(config).to(target).eval()
    load_weights(model, checkpoint)
    manifest = load_manifest(prepared)
    cases = manifest.split(split)[:max_cases]
    if not cases:
        raise ValueError(f"split {split!r} of {prepared} has no cases ({manifest.split_counts})")
    scores = evaluate_cases(model, prepared, cases, config.volumes, config.model.n_codes, out_dir, target)
    report = ReconstructionReport(
        checkpoint=f"{checkpoint} (data manifest {manifest_hash(prepared)[:12]})",
        split=split,
        data_range=output_data_range(config.volumes.output_range),
        cases=scores,
        summary=summarise(scores),
    )
    write_report(report, out_dir)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hounsfield.evaluation.reconstruction", description=__doc__
    )
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--prepared", type=Path, required=True, help="prepared dataset (manifest.json)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--config", type=Path, help="the run's config.json (default: beside checkpoints/)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--max-cases", type=int)
    args = parser.parse_args(argv)
    report = evaluate_checkpoint(
        args.checkpoint, args.prepared, args.out, split=args.split, run_config=args.config,
        device=args.device, max_cases=args.max_cases,
    )  # fmt: skip
    for metric, stats in report.summary.items():
        print(f"{metric}: {stats['mean']:.4g} ± {stats['std']:.4g} (median {stats['median']:.4g})")
    print(f"report: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
