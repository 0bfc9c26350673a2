"""Slice-interpolation evaluation of a ``slice_interp`` checkpoint on a prepared split, without the stack.

``python -m hounsfield.evaluation.interpolation_report CHECKPOINT_DIR --prepared DIR --split test
--out REPORT_DIR [--vae-weights FILE] [--ddim-steps N] [--max-cases N] [--seed S] [--device cpu]``

Each case is scored exactly as the evaluation service's shards score it
(``hounsfield.evaluation.families.slice_interp``: thick input as trained, the model's DDIM sample
and trilinear interpolation against the thin slices; PSNR, 3-D SSIM). The report directory gets
``report.md`` (mean ± std and median of ``psnr``, ``ssim``, ``psnr_trilinear``, ``ssim_trilinear``,
one row per case linking its preview), ``report.yaml``, ``cases.csv`` and ``previews/<case>.png``
(coronal reformat: thick | trilinear | model | thin, superior up). Without ``--vae-weights`` the
VAE file is the one the run's ``config.json`` (beside ``checkpoints/``) names, if any.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from hounsfield.contracts.models import SliceInterpEvaluationSpec
from hounsfield.evaluation.families.slice_interp import open_checkpoint
from hounsfield.evaluation.image_quality import metric_summary
from hounsfield.evaluation.slice_interpolation import METRICS


def summarise(cases: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean, population std and median of each metric over the cases (finite values only)."""
    return metric_summary(METRICS, [case["metrics"] for case in cases])


def write_report(report: dict[str, Any], out_dir: Path) -> None:
    """``report.md``, ``report.yaml`` and ``cases.csv`` in ``out_dir`` (previews are already there)."""
    cases, summary = report["cases"], report["summary"]
    with (out_dir / "cases.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case_id", *METRICS, "seconds", "preview"])
        for c in cases:
            metrics = [f"{c['metrics'][m]:.6g}" for m in METRICS]
            writer.writerow([c["case_id"], *metrics, f"{c['seconds']:.3f}", c["preview"]])
    (out_dir / "report.yaml").write_text(yaml.safe_dump(report, sort_keys=False), encoding="utf-8")

    def cell(metric: str) -> str:
        s = summary.get(metric)
        return f"{s['mean']:.4g} ± {s['std']:.4g} (median {s['median']:.4g})" if s else "–"

    def row(metrics: dict[str, float]) -> str:
        return " | ".join(f"{metrics[m]:.4f}" for m in METRICS)

    options = ", ".join(f"{k} {v}" for k, v in report["options"].items())
    lines = [
        "# Slice interpolation evaluation",
        "",
        f"- checkpoint: {report['checkpoint']}",
        f"- split: {report['split']} of {report['prepared']}, {len(cases)} volumes",
        f"- options: {options}",
        "",
        f"| | {' | '.join(METRICS)} |",
        f"|---|{'|'.join('---:' for _ in METRICS)}|",
        f"| **mean ± std** | {' | '.join(cell(m) for m in METRICS)} |",
        *(f"| [{c['case_id']}]({c['preview']}) | {row(c['metrics'])} |" for c in cases),
        "",
        "Previews (coronal reformat at mid y: thick input | trilinear | model | thin ground truth, "
        "superior up):",
        "",
        *(f"![{c['case_id']}]({c['preview']})" for c in cases),
        "",
    ]
    (out_dir / "report.md").write_text("\n".join(lines), encoding="utf-8")


def run_config_vae_weights(checkpoint: Path) -> Path | None:
    """``vae.weights`` of the run's ``config.json`` beside ``checkpoints/`` (none without the file)."""
    config_path = checkpoint.parent.parent / "config.json"
    if not config_path.is_file():
        return None
    weights = json.loads(config_path.read_text(encoding="utf-8"))["config"].get("vae", {}).get("weights")
    return Path(weights) if weights else None


def evaluate(
    checkpoint: Path,
    prepared: Path,
    out_dir: Path,
    spec: SliceInterpEvaluationSpec,
    vae_weights: Path | None,
) -> dict[str, Any]:
    """Score every case of ``spec.dataset`` and write the report (module docstring); returns it."""
    evaluator = open_checkpoint(spec, checkpoint, vae_weights, prepared)
    planned = evaluator.cases()
    if not planned:
        raise ValueError(f"split {spec.dataset.split!r} of {prepared} has no cases")
    (out_dir / "previews").mkdir(parents=True, exist_ok=True)
    cases = []
    for index, case in enumerate(planned):
        scratch = out_dir / "previews" / case.case_id
        scratch.mkdir(exist_ok=True)
        score = evaluator.evaluate(case.case_id, index, scratch)
        preview = f"previews/{case.case_id}.png"
        (scratch / "preview.png").replace(out_dir / preview)
        scratch.rmdir()
        cases.append({"case_id": case.case_id, "metrics": score.metrics, "seconds": score.seconds,
                      "preview": preview})  # fmt: skip
    report = {
        "checkpoint": str(checkpoint),
        "prepared": str(prepared),
        "split": spec.dataset.split,
        "options": evaluator.options(),
        "summary": summarise(cases),
        "cases": cases,
    }
    write_report(report, out_dir)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hounsfield.evaluation.interpolation_report", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("checkpoint", type=Path, help="a slice_interp checkpoint directory")
    parser.add_argument("--prepared", type=Path, required=True, help="prepared dataset (manifest.json)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--vae-weights", type=Path, help="default: the run's config.json vae.weights")
    parser.add_argument("--ddim-steps", type=int, help="default: the checkpoint's")
    parser.add_argument("--max-cases", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="gpu", choices=["gpu", "cpu"], help="gpu: CUDA when present")
    args = parser.parse_args(argv)
    spec = SliceInterpEvaluationSpec.model_validate(
        {
            "kind": "slice_interp",
            "checkpoints": {"model": {"job": "local"}},
            "dataset": {"root": str(args.prepared), "split": args.split, "maxCases": args.max_cases},
            "ddimSteps": args.ddim_steps,
            "seed": args.seed,
            "device": args.device,
        }
    )
    weights = args.vae_weights or run_config_vae_weights(args.checkpoint)
    report = evaluate(args.checkpoint, args.prepared, args.out, spec, weights)
    for metric, stats in report["summary"].items():
        print(f"{metric}: {stats['mean']:.4g} ± {stats['std']:.4g} (median {stats['median']:.4g})")
    print(f"report: {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
