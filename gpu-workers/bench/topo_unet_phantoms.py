"""Benchmark: does training with the topology terms help on held-out sheet phantoms?

Run: `gpu-workers/.venv/bin/python gpu-workers/bench/topo_unet_phantoms.py --minutes 15`.

Three cpu-tiny models are compared on held-out phantoms (seeds 1000+, never trained on):

* ``topology``: trained for ``--minutes`` of this process's CPU time with every term (weighted
  BCE, soft Dice, clDice, skeleton recall, boundary loss; the preset's weights);
* ``bce+dice``: the same budget, seed and data with only weighted BCE and soft Dice (``--steps N``
  gives both the same number of steps instead of the same CPU time);
* ``untrained``: the same initial weights, not trained.

The budget is CPU time (``timeLimitClock: cpu``) on one thread (``--threads``), so a busy shared
machine does not shortchange one run: with several threads, OpenMP's spin-waiting while a sibling
thread is descheduled counts as CPU time and would eat the budget of whichever run was unluckier.
Every held-out volume is predicted whole (Gaussian-blended sliding windows, threshold 0.5,
components under ``--min-component-voxels`` removed) and scored with ``evaluation.topology``: Dice,
clDice, surface Dice at 2 voxels, VOI, the absolute Betti-number errors and the challenge-style
composite. The program prints the mean of each over the held-out cases, one row per model, then
whether the trained model beats the untrained one on every metric and whether the topology terms
reduced each Betti error.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from hounsfield.checkpoints.layout import CHECKPOINTS_DIR
from hounsfield.checkpoints.weights import load_weights
from hounsfield.data.sheet_phantoms import sheet_phantom
from hounsfield.evaluation.topology import topology_report
from hounsfield.recipes.runner import run_recipe
from hounsfield.recipes.topo_unet.config import InferenceConfig
from hounsfield.recipes.topo_unet.inference import predict_probabilities, to_mask
from hounsfield.recipes.topo_unet.model import build_network
from hounsfield.recipes.topo_unet.recipe import RECIPE

METRICS = ("dice", "cldice", "surface_dice", "voi", "b0_error", "b1_error", "b2_error", "score")
LOWER_IS_BETTER = {"voi", "b0_error", "b1_error", "b2_error"}
TOPOLOGY_OFF = {"cldice": 0.0, "skeletonRecall": 0.0, "surface": 0.0}


def train(output: Path, minutes: float, steps: int | None, subjects: int, loss: dict[str, float]) -> Path:
    budget: dict[str, object] = (
        {"steps": steps}
        if steps is not None
        else {"steps": 1_000_000, "timeLimitMinutes": minutes, "timeLimitClock": "cpu"}
    )
    overrides = {
        **budget,
        "logEvery": 50,
        "synthetic": {"subjects": subjects, "shape": 40, "seed": 0},
        "data": {"validationCases": 0, "samplesPerEpoch": 256},
        "loss": loss,
    }
    code = run_recipe(
        RECIPE, ["--preset", "cpu-tiny", "--output-dir", str(output), "--config", json.dumps(overrides)]
    )
    if code != 0:
        raise SystemExit(f"training in {output} exited {code}")
    return sorted((output / CHECKPOINTS_DIR).iterdir())[-1]


def evaluate(network: torch.nn.Module, cases: int, inference: InferenceConfig) -> dict[str, float]:
    patch = RECIPE.preset("cpu-tiny").data.patch
    sums = dict.fromkeys(METRICS, 0.0)
    for seed in range(1000, 1000 + cases):
        phantom = sheet_phantom(seed, (24, 40, 40))
        image = (phantom.image - phantom.image.mean()) / phantom.image.std()
        mask = to_mask(
            predict_probabilities(network, image, patch, inference, torch.device("cpu")), inference
        )
        report = topology_report(mask, phantom.labels, 1.0)
        for name in METRICS:
            sums[name] += report[name]
    return {name: value / cases for name, value in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=15.0, help="CPU minutes per trained model")
    parser.add_argument("--steps", type=int, help="instead of --minutes: the same number of steps for both")
    parser.add_argument("--train-phantoms", type=int, default=16)
    parser.add_argument("--test-phantoms", type=int, default=8)
    parser.add_argument("--min-component-voxels", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time = compute)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    inference = InferenceConfig(overlap=0.5, min_component_voxels=args.min_component_voxels)
    preset = RECIPE.preset("cpu-tiny")
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, loss in (("topology", {}), ("bce+dice", TOPOLOGY_OFF)):
            checkpoint = train(Path(tmp) / name, args.minutes, args.steps, args.train_phantoms, loss)
            network = build_network(preset.model)
            load_weights(network, checkpoint)
            results[name] = evaluate(network, args.test_phantoms, inference)
            steps = json.loads((checkpoint / "meta.json").read_text())["step"]
            results[name]["steps"] = float(steps)
    torch.manual_seed(preset.seed)  # the loop seeds the same way before building, so same initial weights
    results["untrained"] = evaluate(build_network(preset.model), args.test_phantoms, inference)
    results["untrained"]["steps"] = 0.0

    budget = f"{args.steps} steps" if args.steps is not None else f"{args.minutes} CPU min"
    print(
        f"load: {os.getloadavg()[0]:.2f} (1-min); {budget} per model; "
        f"{args.train_phantoms} training / {args.test_phantoms} held-out phantoms"
    )
    print(f"{'model':<11}{'steps':>7}" + "".join(f"{m:>13}" for m in METRICS))
    for name, row in results.items():
        print(f"{name:<11}{int(row['steps']):>7}" + "".join(f"{row[m]:>13.4f}" for m in METRICS))

    def better(a: dict[str, float], b: dict[str, float], metric: str) -> bool:
        return a[metric] < b[metric] if metric in LOWER_IS_BETTER else a[metric] > b[metric]

    beaten = [m for m in METRICS if not better(results["topology"], results["untrained"], m)]
    print(
        "trained (topology) beats untrained on every metric:",
        "yes" if not beaten else f"no ({', '.join(beaten)})",
    )
    for k in range(3):
        metric = f"b{k}_error"
        top, base = results["topology"][metric], results["bce+dice"][metric]
        verdict = "reduced" if top < base else ("equal" if np.isclose(top, base) else "not reduced")
        print(f"topology terms vs bce+dice on {metric}: {top:.3f} vs {base:.3f} ({verdict})")


if __name__ == "__main__":
    main()
