"""Benchmark: our patch blending vs MONAI ``sliding_window_inference`` on a CTPA-sized half volume.

Run: ``gpu-workers/.venv/bin/python gpu-workers/bench/blending.py``. A 1×1×256×256×302 float32
volume on the CPU is cut into 256×256×128 patches with stride 192×192×96 (overlap 0.25); the
predictor is a cheap position-dependent function, so the time is the blending's own. For
``gaussian`` MONAI runs with ``mode="gaussian", sigma_scale=0.125``; for ``tent`` MONAI is given our
tent window as ``roi_weight_map``. Each row prints the max abs difference vs MONAI, the time ratio
(process CPU time, best of ``--repeats`` interleaved runs, so other load on a shared machine
does not bias it), and the peak memory of each implementation, measured in a fresh child process as the
growth of its peak resident set (``VmHWM``, reset once the input exists) over its resident set then.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import torch
from monai.inferers import sliding_window_inference

from hounsfield.data.patches import blend_weights, sliding_window_reconstruct

SHAPE = (1, 1, 256, 256, 302)
PATCH = (256, 256, 128)
STRIDE = (192, 192, 96)


def _volume() -> torch.Tensor:
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))


def _predictor(x: torch.Tensor) -> torch.Tensor:
    return x * 0.5 + torch.linspace(0, 1, x.shape[-1])


def _run(impl: str, mode: str, volume: torch.Tensor) -> torch.Tensor:
    if impl == "ours":
        return sliding_window_reconstruct(volume, _predictor, PATCH, STRIDE, mode=mode, patches_in_flight=2)  # type: ignore[arg-type]
    extra = (
        {"mode": "gaussian", "sigma_scale": 0.125}
        if mode == "gaussian"
        else {"roi_weight_map": blend_weights(PATCH, "tent")}
    )
    with torch.no_grad():
        out = sliding_window_inference(volume, PATCH, 2, _predictor, overlap=0.25, **extra)  # type: ignore[arg-type]
    assert isinstance(out, torch.Tensor)
    return out


def _status_mb(field: str) -> float:
    """``VmRSS``/``VmHWM`` of this process in MB (Linux; unlike ru_maxrss, not inherited across exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _child(impl: str, mode: str) -> None:
    torch.set_num_threads(1)
    volume = _volume()
    _run(impl, mode, torch.zeros(1, 1, *PATCH))  # warm up code paths at the smallest size
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets the peak resident set (VmHWM) to the current one
    base = _status_mb("VmRSS")
    _run(impl, mode, volume)
    print(json.dumps({"peak_mb": _status_mb("VmHWM") - base}))


def _peak(impl: str, mode: str) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", impl, mode], check=True, capture_output=True, text=True
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["peak_mb"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    torch.set_num_threads(1)
    volume = _volume()
    print(f"volume {SHAPE}, patch {PATCH}, stride {STRIDE}, CPU, 1 thread; times: best process CPU s")
    print(
        f"{'mode':<9} {'max abs difference vs MONAI':>28} {'time ours / MONAI':>18} {'ours s':>8} "
        f"{'MONAI s':>8} {'peak MB ours':>13} {'peak MB MONAI':>14}"
    )
    for mode in ("gaussian", "tent"):
        times: dict[str, float] = {"ours": float("inf"), "monai": float("inf")}
        results: dict[str, torch.Tensor] = {}
        for _ in range(args.repeats):
            for impl in ("ours", "monai"):  # interleaved, so a change in machine load hits both alike
                start = time.process_time()
                results[impl] = _run(impl, mode, volume)
                times[impl] = min(times[impl], time.process_time() - start)
        diff = (results["ours"] - results["monai"]).abs().max().item()
        peaks = {impl: _peak(impl, mode) for impl in ("ours", "monai")}
        print(
            f"{mode:<9} {diff:>28.3e} {times['ours'] / times['monai']:>18.3f} {times['ours']:>8.3f} "
            f"{times['monai']:>8.3f} {peaks['ours']:>13.1f} {peaks['monai']:>14.1f}"
        )


if __name__ == "__main__":
    main()
