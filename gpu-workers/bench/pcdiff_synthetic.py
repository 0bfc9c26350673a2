"""Benchmark: PCDiff's CPU preset on synthetic skulls, for a fixed training budget.

Run: ``gpu-workers/.venv/bin/python gpu-workers/bench/pcdiff_synthetic.py --minutes 20``
(``--memorise`` for the single-case mode). What it does, in one run:

1. Writes synthetic SkullBreak-layout skulls (``--subjects`` for training, ``--test-subjects``
   held out; 64^3 voxels of 3.2 mm) and a split CSV.
2. Trains both networks with the real trainers, side by side as two processes of one thread each
   (``python -m hounsfield.recipes.pcdiff`` / ``.voxelization``, preset ``cpu-tiny``), each for
   ``--minutes`` of wall-clock time (their ``timeLimitMinutes`` with ``timeLimitClock: wall``):
   the budget is the wall time of the training phase on two cores, however loaded the machine is
   (quote the load average with the numbers). The voxelizer learns from ground-truth complete-skull points,
   as in the paper; it is the same voxelizer for every row of the table.
3. For every held-out case, runs the evaluation service's own pipeline
   (``hounsfield.evaluation.pipeline.evaluate_case``): samples the implant (DDIM,
   ``--ddim-steps``, eta 0, predicted x0 clipped to [-3, 3]; ``--ensemble`` members), voxelizes
   defective skull + each member's points, subtracts the defective skull, votes the members
   voxel-wise, then post-processes the vote (points-near filter, opening, largest component, ...)
   and scores DSC, boundary DSC (10 mm), HD95 (mm) and the surface Chamfer distance CD (mm)
   against the ground-truth implant. Three references are measured in the same run, with the same
   voxelizer, post-processing and metrics:
   ``untrained`` (the network at its initial weights), ``oracle`` (ground-truth implant points)
   and ``skull only`` (no implant points: what the voxelizer closes on its own).
4. Prints the table per defect class, the learning curves, and timings.

``--memorise`` trains the diffusion model on one case only and samples that same case
(``--samples`` times), reporting how close it gets to the oracle on it. Outputs (data, both
trainers' checkpoints and report files) stay in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from hounsfield.checkpoints.layout import committed_checkpoints
from hounsfield.checkpoints.reader import read_checkpoint
from hounsfield.data.cases import SKULLBREAK_DEFECT_CLASSES, SkullCase, discover_cases
from hounsfield.data.coordinates import BoxNormalisation
from hounsfield.data.prepare import SplitName, write_split_csv
from hounsfield.data.skullbreak import SkullCompletionDataset
from hounsfield.data.synthetic_skulls import generate_skullbreak
from hounsfield.data.volume_io import read_mask
from hounsfield.diffusion import NoiseSchedule, SamplerConfig
from hounsfield.evaluation import PostprocessOptions, postprocess_implant
from hounsfield.evaluation import pipeline as production
from hounsfield.models.pvcnn2 import PVCNN2
from hounsfield.models.voxelization import Encode2Points
from hounsfield.recipes.pcdiff.config import PCDiffTrainConfig
from hounsfield.recipes.voxelization.config import VoxelizationTrainConfig

_log = logging.getLogger("bench.pcdiff_synthetic")
Mask = npt.NDArray[np.bool_]
METRICS = production.CASE_METRICS


# --- data ------------------------------------------------------------------------------------


def write_dataset(root: Path, args: argparse.Namespace) -> tuple[list[SkullCase], list[SkullCase]]:
    """Synthetic skulls, ``split.csv`` (held-out subjects are ``test``) and, for ``--memorise``,
    ``split-memorise.csv`` (the one case). Returns (diffusion training cases, evaluated cases)."""
    total = args.subjects + args.test_subjects
    if not (root / "complete_skull").is_dir():
        generate_skullbreak(root, total, shape=(args.shape,) * 3, seed=args.seed)
    cases = discover_cases(root)
    test_subjects = {f"{i:03d}" for i in range(args.subjects, total)}
    splits: dict[str, SplitName] = {
        c.case_id: "test" if c.subject_id in test_subjects else "train" for c in cases
    }
    write_split_csv(root.parent / "split.csv", cases, splits)
    if args.memorise:
        chosen = [c for c in cases if c.case_id == args.memorise_case]
        if not chosen:
            raise SystemExit(f"no case {args.memorise_case!r}; ids look like 000_bilateral")
        write_split_csv(root.parent / "split-memorise.csv", chosen, {chosen[0].case_id: "train"})
        return chosen, chosen
    return [c for c in cases if splits[c.case_id] == "train"], [
        c for c in cases if splits[c.case_id] == "test"
    ]


# --- training (the real trainers, as processes) ------------------------------------------------


def start_trainer(
    module: str, out: Path, root: Path, split_csv: Path, overrides: dict[str, Any]
) -> subprocess.Popen[bytes]:
    out.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOUNSFIELD_")}
    env.update(OMP_NUM_THREADS="1", HOUNSFIELD_REPORT_FILE=str(out / "report.jsonl"))
    (out / "report.jsonl").unlink(missing_ok=True)
    config = {"preset": "cpu-tiny", "dataRoot": str(root), "splitCsv": str(split_csv), **overrides}
    command = [sys.executable, "-m", module, "--output-dir", str(out / "output")]
    command += ["--config", json.dumps(config)]
    log = (out / "trainer.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def progress(out: Path) -> list[dict[str, Any]]:
    lines = (out / "report.jsonl").read_text().splitlines()
    return [r for r in (json.loads(line) for line in lines if line.strip()) if r["kind"] == "progress"]


def latest_state(out: Path) -> tuple[dict[str, Any], int]:
    found = committed_checkpoints(out / "output" / "checkpoints")
    if not found:
        raise SystemExit(f"no checkpoint in {out}; see {out / 'trainer.log'}")
    state, meta = read_checkpoint(found[-1])
    return state, meta.step


def saved_config(out: Path) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((out / "output" / "config.json").read_text())["config"]
    return config


# --- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseInputs:
    case: SkullCase
    skull: torch.Tensor  # (3, S) normalised defective-skull points
    implant: torch.Tensor  # (3, I) ground-truth implant points
    norm: BoxNormalisation
    defective: Mask
    truth: Mask

    def for_pipeline(self) -> production.CaseInputs:
        return production.CaseInputs(self.case, self.skull, self.norm, self.defective, self.truth)


def case_inputs(cases: Sequence[SkullCase], config: PCDiffTrainConfig, cache: Path) -> list[CaseInputs]:
    dataset = SkullCompletionDataset(cases, config.points, cache)
    inputs = []
    for index, case in enumerate(cases):
        torch.manual_seed(10_000 + index)  # the same points for every row of the table
        item = dataset[index]
        defective, _ = read_mask(case.defective_path)
        truth, _ = read_mask(case.implant_path)
        inputs.append(
            CaseInputs(
                case,
                item["defective_points"].T.contiguous(),
                item["implant_points"].T.contiguous(),
                BoxNormalisation.from_batch(item),
                defective.astype(bool),
                truth.astype(bool),
            )
        )
    return inputs


# At 64^3 (3.2 mm voxels) the bone is about 3 voxels thick: the paper's opening and 3^3 median
# (designed for 0.4 mm voxels) erase thin implants such as the bilateral band (oracle DSC 0.07
# instead of 0.5 on it), so the light variant keeps only the points-near filter and the largest
# connected component.
POSTPROCESS = {
    "light": PostprocessOptions(opening=False, median=False, closing=False, fill_holes=False),
    "paper": PostprocessOptions(),
    "none": PostprocessOptions(
        near_points=False,
        opening=False,
        largest_component=False,
        median=False,
        closing=False,
        fill_holes=False,
    ),
}


def implant_mask(
    voxelizer: Encode2Points,
    inputs: CaseInputs,
    implant_points: torch.Tensor | None,
    options: PostprocessOptions,
) -> Mask:
    """Voxelize skull (+ implant points), keep what is not defective skull, post-process."""
    cloud = inputs.skull if implant_points is None else torch.cat([inputs.skull, implant_points], dim=1)
    complete = voxelizer.generate(cloud.T, inputs.norm)
    raw = complete & ~inputs.defective
    near = None if implant_points is None else inputs.norm.normalised_to_voxel(implant_points.T.numpy())
    return np.asarray(postprocess_implant(raw, near, options).mask, dtype=bool)


def scores(pred: Mask, inputs: CaseInputs) -> dict[str, float]:
    return production.case_metrics(pred, inputs.for_pipeline())


def diffusion_row(
    networks: production.ImplantNetworks, sampler: SamplerConfig, options: PostprocessOptions
) -> Callable[[CaseInputs, int], dict[str, float]]:
    """A row scored exactly as an evaluation shard scores a case (vote first, then post-process)."""

    def score(inputs: CaseInputs, seed: int) -> dict[str, float]:
        return production.evaluate_case(networks, inputs.for_pipeline(), sampler, options, seed).metrics

    return score


def evaluate(
    rows: dict[str, Callable[[CaseInputs, int], dict[str, float]]], inputs: Sequence[CaseInputs], repeats: int
) -> dict[str, list[tuple[str, dict[str, float]]]]:
    """Scores of every row on every case (``repeats`` seeds per case), keyed by row name."""
    results: dict[str, list[tuple[str, dict[str, float]]]] = {name: [] for name in rows}
    for number, case in enumerate(inputs):
        started = time.perf_counter()
        for name, score in rows.items():
            for repeat in range(repeats):
                results[name].append((case.case.defect_class, score(case, 1_000 * number + repeat)))
        _log.info(
            "scored %s (%d/%d) in %.1f s",
            case.case.case_id,
            number + 1,
            len(inputs),
            time.perf_counter() - started,
        )
    return results


# --- printing --------------------------------------------------------------------------------


def mean_scores(
    entries: Sequence[tuple[str, dict[str, float]]], defect_class: str | None
) -> dict[str, float]:
    chosen = [s for c, s in entries if defect_class is None or c == defect_class]
    return {m: float(np.mean([s[m] for s in chosen])) for m in METRICS}


def print_table(results: dict[str, list[tuple[str, dict[str, float]]]]) -> None:
    names = list(results)
    header = f"{'defect class':<16}{'n':>3} " + " ".join(f"| {name:^27} " for name in names)
    sub = f"{'':<19} " + " ".join(f"| {'DSC':>5} {'bDSC':>5} {'HD95':>7} {'CD':>6} " for _ in names)
    print(header)
    print(sub + "(HD95 and CD in mm)")
    print("-" * len(sub))
    classes = [c for c in SKULLBREAK_DEFECT_CLASSES if any(k == c for k, _ in results[names[0]])]
    for defect_class in [*classes, None]:
        if defect_class is None:
            print("-" * len(sub))
        count = sum(1 for c, _ in results[names[0]] if defect_class is None or c == defect_class)
        cells = []
        for name in names:
            m = mean_scores(results[name], defect_class)
            cells.append(f"| {m['DSC']:5.3f} {m['bDSC']:5.3f} {m['HD95']:7.2f} {m['CD']:6.2f} ")
        print(f"{defect_class or 'mean':<16}{count:>3} " + " ".join(cells))


def print_curve(name: str, records: Sequence[dict[str, Any]], rows: int = 16) -> None:
    if not records:
        print(f"{name}: no progress reported")
        return
    every = max(1, len(records) // rows)
    picked = list(records[::every][: rows - 1])
    if picked[-1] is not records[-1]:
        picked.append(records[-1])
    print(f"{name}: window-mean loss ({len(records)} reports)")
    print(f"  {'step':>6} {'epoch':>7} {'loss':>8} {'s/step':>7}")
    for r in picked:
        loss, epoch, seconds = r["metrics"]["loss"], r.get("epoch", 0.0), r.get("stepSeconds", 0.0)
        print(f"  {r['step']:>6} {epoch:>7.1f} {loss:>8.4f} {seconds:>7.2f}")


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--minutes", type=float, default=20.0, help="diffusion training budget, wall-clock minutes (<= 30)"
    )
    parser.add_argument(
        "--voxelizer-minutes", type=float, default=5.0, help="voxelizer budget, wall-clock minutes"
    )
    parser.add_argument(
        "--postprocess",
        choices=("light", "paper", "none"),
        default="light",
        help="light: points-near filter + largest component; paper: + opening, median, closing, hole filling",
    )
    parser.add_argument("--subjects", type=int, default=24, help="training subjects (5 cases each)")
    parser.add_argument("--test-subjects", type=int, default=4, help="held-out subjects")
    parser.add_argument("--shape", type=int, default=64, help="synthetic volume size")
    parser.add_argument("--ddim-steps", type=int, default=50)
    parser.add_argument("--ensemble", type=int, default=1, help="implants per case, voted voxel-wise")
    parser.add_argument(
        "--weights", choices=("ema", "raw"), default="ema", help="diffusion weights to sample"
    )
    parser.add_argument("--global-batch", type=int, default=8)
    parser.add_argument("--lr", type=float, help="diffusion learning rate (default: the preset's)")
    parser.add_argument("--memorise", action="store_true", help="train on one case, sample that case")
    parser.add_argument("--memorise-case", default="000_parietotemporal")
    parser.add_argument("--samples", type=int, default=5, help="memorise mode: samples of the case")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench-runs/pcdiff-synthetic"))
    parser.add_argument(
        "--reuse", action="store_true", help="skip training; evaluate the checkpoints in --out"
    )
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 30 or not 0 < args.voxelizer_minutes <= 30:
        parser.error("--minutes and --voxelizer-minutes must be in (0, 30]")
    return args


def train(args: argparse.Namespace, out: Path, diffusion_dir: Path, voxelizer_dir: Path) -> None:
    """Both trainers side by side for the budget (the voxelizer is kept in memorise mode if one exists)."""
    root, split_csv = out / "skulls", out / "split.csv"
    common = {"steps": 10_000_000, "timeLimitClock": "wall", "seed": args.seed}
    diffusion_overrides: dict[str, Any] = {
        **common,
        "timeLimitMinutes": args.minutes,
        "logEvery": 25,
        "globalBatch": args.global_batch,
    }
    if args.lr is not None:
        diffusion_overrides["lr"] = args.lr
    diffusion_split = out / "split-memorise.csv" if args.memorise else split_csv
    shutil.rmtree(diffusion_dir, ignore_errors=True)  # a fresh budget, not a resumed run
    trainers = [
        start_trainer("hounsfield.recipes.pcdiff", diffusion_dir, root, diffusion_split, diffusion_overrides)
    ]
    if not (args.memorise and committed_checkpoints(voxelizer_dir / "output" / "checkpoints")):
        shutil.rmtree(voxelizer_dir, ignore_errors=True)
        vox_overrides = {**common, "timeLimitMinutes": args.voxelizer_minutes, "logEvery": 50}
        trainers.append(
            start_trainer("hounsfield.recipes.voxelization", voxelizer_dir, root, split_csv, vox_overrides)
        )
    for process in trainers:
        if process.wait() != 0:
            raise SystemExit(
                f"a trainer failed (exit {process.returncode}); see the trainer.log files in {out}"
            )


def load_networks(
    args: argparse.Namespace, diffusion_dir: Path, voxelizer_dir: Path
) -> tuple[PCDiffTrainConfig, PVCNN2, PVCNN2, Encode2Points, str]:
    """(config, trained, untrained, voxelizer, a line describing them), all in eval mode."""
    config = PCDiffTrainConfig.model_validate(saved_config(diffusion_dir))
    vox_config = VoxelizationTrainConfig.model_validate(saved_config(voxelizer_dir))
    state, step = latest_state(diffusion_dir)
    vox_state, vox_step = latest_state(voxelizer_dir)
    trained = PVCNN2(config.model)
    trained.load_state_dict(state["ema"]["shadow"] if args.weights == "ema" else state["model"])
    torch.manual_seed(config.seed)  # the trainer's initial weights
    untrained = PVCNN2(config.model)
    voxelizer = Encode2Points(vox_config.model)
    voxelizer.load_state_dict(vox_state["model"])
    for network in (trained, untrained, voxelizer):
        network.eval()
    described = (
        f"diffusion: {step} steps (batch {config.global_batch}, lr {config.lr:g}, {args.weights} weights); "
        f"voxelizer: {vox_step} steps (PSR grid {vox_config.model.psr_resolution}^3); "
        f"sampler DDIM-{args.ddim_steps}, eta 0, x0 clipped to [-3, 3], ensemble {args.ensemble}; "
        f"post-processing {args.postprocess}"
    )
    return config, trained, untrained, voxelizer, described


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    mode = "memorise" if args.memorise else "generalise"
    out = args.out.resolve()
    train_cases, evaluate_cases = write_dataset(out / "skulls", args)
    diffusion_dir, voxelizer_dir = out / f"pcdiff-{mode}", out / "voxelization"
    print(
        f"PCDiff cpu-tiny on synthetic skulls ({mode}): {len(train_cases)} training case(s), "
        f"{len(evaluate_cases)} evaluated, {args.shape}^3 voxels, budget {args.minutes:g} min\n"
    )
    started = time.perf_counter()
    if not args.reuse:
        train(args, out, diffusion_dir, voxelizer_dir)
    trained_seconds = time.perf_counter() - started

    config, trained, untrained, voxelizer, described = load_networks(args, diffusion_dir, voxelizer_dir)
    schedule = NoiseSchedule.from_config(config.schedule)
    # The evaluation spec's defaults: DDIM, eta 0, predicted x0 clipped to [-3, 3].
    sampler = production.sampler_config("ddim", args.ddim_steps, 0.0, None, 3.0, args.ensemble)
    options = POSTPROCESS[args.postprocess]
    rows: dict[str, Callable[[CaseInputs, int], dict[str, float]]] = {
        "trained": diffusion_row(
            production.ImplantNetworks(config, trained, schedule, voxelizer), sampler, options
        ),
        "untrained": diffusion_row(
            production.ImplantNetworks(config, untrained, schedule, voxelizer), sampler, options
        ),
        "oracle": lambda c, _seed: scores(implant_mask(voxelizer, c, c.implant, options), c),
        "skull only": lambda c, _seed: scores(implant_mask(voxelizer, c, None, options), c),
    }
    eval_started = time.perf_counter()
    with torch.no_grad():
        inputs = case_inputs(evaluate_cases, config, out / "eval-cache")
        results = evaluate(rows, inputs, repeats=args.samples if args.memorise else 1)
    eval_seconds = time.perf_counter() - eval_started

    print(f"\n{described}\n")
    print_table(results)
    if args.memorise:
        got, oracle = mean_scores(results["trained"], None), mean_scores(results["oracle"], None)
        best = max(s["DSC"] for _, s in results["trained"])
        print(
            f"\nmemorised case {args.memorise_case}: mean DSC {got['DSC']:.3f} over {args.samples} samples "
            f"(best {best:.3f}) = {got['DSC'] / max(oracle['DSC'], 1e-9):.0%} "
            f"of the oracle's {oracle['DSC']:.3f}"
        )
    print()
    print_curve("diffusion (implant-noise MSE)", progress(diffusion_dir))
    print_curve("voxelizer (psr_l2)", progress(voxelizer_dir), rows=6)
    print(
        f"\ntraining {trained_seconds / 60:.1f} min (both networks side by side), "
        f"evaluation {eval_seconds / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
