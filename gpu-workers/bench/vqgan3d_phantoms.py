"""Benchmark: reconstruction quality of a cpu-tiny vqgan3d trained for N minutes on CT phantoms.

Run: ``gpu-workers/.venv/bin/python gpu-workers/bench/vqgan3d_phantoms.py --minutes 15``. It writes
``--patients`` phantom patients (64×64×76 by default, the CTPA aspect), trains the ``cpu-tiny``
preset on their train split as the worker would (``python -m hounsfield.recipes.vqgan3d`` with a
time limit on the trainer's CPU time, so a busy machine does not shorten training), then
reconstructs every held-out (val + test) volume through the gaussian blending and prints PSNR and
3-D SSIM (windowed intensities in [0, 1], data range 1) of

* the trained model (its last checkpoint),
* the untrained model (the same seeded initialisation, codebook initialised from the first batch
  of patches as training would), and
* trilinear down- and up-sampling by the model's downsampling factor (the same compression of the
  grid without a codebook),

plus the trained model's codebook perplexity and fraction of codes used on the held-out volumes.
Targets (issue 13): trained PSNR ≥ untrained + 10 dB, codebook usage ≥ 25 %.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from hounsfield.checkpoints.weights import load_weights
from hounsfield.data.ct_phantoms import write_phantom_dataset
from hounsfield.data.patches import sliding_window_reconstruct
from hounsfield.data.volumes.prepare import load_manifest
from hounsfield.evaluation.codebook import codebook_perplexity, codebook_usage
from hounsfield.evaluation.image_quality import psnr, ssim3d
from hounsfield.recipes.vqgan3d.config import PRESETS
from hounsfield.recipes.vqgan3d.data import PatchDataset, load_volume
from hounsfield.recipes.vqgan3d.model import VQGAN3D
from hounsfield.recipes.vqgan3d.recipe import build_model


def _reconstruct(
    model: VQGAN3D, volume: torch.Tensor, patch: tuple[int, int, int], stride: tuple[int, int, int]
):
    codes: list[torch.Tensor] = []

    def predict(x: torch.Tensor) -> torch.Tensor:
        recon, _, idx = model(x)
        codes.append(idx.flatten())
        return recon  # type: ignore[no-any-return]

    out = sliding_window_reconstruct(volume, predict, patch, stride, mode="gaussian", patches_in_flight=8)
    return out.clamp(0, 1), torch.cat(codes).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=15.0, help="training time (the trainer's CPU time)")
    parser.add_argument("--patients", type=int, default=12)
    parser.add_argument("--size", type=int, default=64, help="in-plane phantom size; z keeps 604/512")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temporary directory)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="vqgan3d-bench-"))
    data, output = work / "phantoms", work / "run"
    shape = (args.size, args.size, round(args.size * 604 / 512))
    if not data.is_dir():
        write_phantom_dataset(data, args.patients, shape=shape, seed=11)
    config = PRESETS["cpu-tiny"]()
    command = [
        sys.executable, "-m", "hounsfield.recipes.vqgan3d", "--preset", "cpu-tiny", "--data-root", str(data),
        "--steps", "1000000", "--time-limit-minutes", str(args.minutes), "--output-dir", str(output),
        "--log-every", "50",
        "--config", '{"validation": {"everySteps": null, "atEnd": false}, "timeLimitClock": "cpu"}',
    ]  # fmt: skip
    started = time.monotonic()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    subprocess.run(command, check=True, env=env)
    trained_seconds = time.monotonic() - started
    checkpoints = sorted((output / "checkpoints").glob("step-*"))
    prepared = output / "dataset"
    manifest = load_manifest(prepared)
    held_out = manifest.split("val") + manifest.split("test")
    patch, stride = config.volumes.patch, config.volumes.stride

    torch.manual_seed(config.seed)  # the initial weights the run started from
    untrained = build_model(config)
    first = PatchDataset(prepared, manifest.split("train"), patch, stride)
    batch = torch.stack([first[i]["volume"] for i in range(min(len(first), config.global_batch))])
    untrained.train()
    with torch.no_grad():
        untrained(batch)  # data-dependent codebook initialisation, as at the first training step
    trained = build_model(config)
    load_weights(trained, checkpoints[-1])
    untrained.eval()
    trained.eval()

    factor = config.model.downsample
    rows: dict[str, list[tuple[float, float]]] = {"trained": [], "untrained": [], "trilinear": []}
    all_codes = []
    with torch.no_grad():
        for case in held_out:
            volume = load_volume(prepared, case)
            ref = volume[0, 0].numpy()
            recon, codes = _reconstruct(trained, volume, patch, stride)
            all_codes.append(codes)
            base, _ = _reconstruct(untrained, volume, patch, stride)
            small = F.interpolate(volume, scale_factor=[1 / f for f in factor], mode="trilinear")
            trilinear = F.interpolate(small, size=volume.shape[2:], mode="trilinear").clamp(0, 1)
            for name, out in (("trained", recon), ("untrained", base), ("trilinear", trilinear)):
                o = out[0, 0].numpy()
                rows[name].append((psnr(o, ref, 1.0), ssim3d(o, ref, 1.0)))
    codes = np.concatenate(all_codes)
    n_codes = config.model.n_codes
    step = int(checkpoints[-1].name.split("-")[-1])
    print(f"phantoms {shape}, {len(manifest.split('train'))} training / {len(held_out)} held-out volumes")
    print(
        f"trained {args.minutes:g} CPU min ({trained_seconds / 60:.1f} min wall, {step} steps of "
        f"{config.global_batch} patches)"
    )
    print(f"{'model':<10} {'PSNR dB':>9} {'SSIM':>7}   (mean over held-out volumes, data range 1)")
    for name, values in rows.items():
        p, s = np.mean([v[0] for v in values]), np.mean([v[1] for v in values])
        print(f"{name:<10} {p:>9.2f} {s:>7.4f}")
    gain = np.mean([v[0] for v in rows["trained"]]) - np.mean([v[0] for v in rows["untrained"]])
    usage = codebook_usage(codes, n_codes)
    perplexity = codebook_perplexity(codes, n_codes)
    print(f"codebook perplexity {perplexity:.1f} of {n_codes}, used {100 * usage:.1f} %")
    print(f"trained - untrained PSNR {gain:+.2f} dB (target >= +10): {'met' if gain >= 10 else 'NOT met'}")
    print(f"codebook usage {100 * usage:.1f} % (target >= 25 %): {'met' if usage >= 0.25 else 'NOT met'}")


if __name__ == "__main__":
    main()
