"""Benchmark: whole-volume vs z-chunked encoding and decoding with the MAISI VAE on the CPU.

Run: ``nice -n 10 gpu-workers/.venv/bin/python gpu-workers/bench/maisi_chunking.py`` (minutes). The
input is a 1×1×256×256×128 CT phantom (HU mapped to [0, 1]); the VAE has the MAISI CT
configuration with random weights (``hounsfield.recipes.slice_interp.vae``). Decoding starts from
the whole-volume latent. Each of the four modes (encode/decode × whole/chunked) runs in a fresh
child process; its peak memory is the growth of the peak resident set (``VmHWM``, reset once the
model and the input exist) over the resident set then, and its time is wall time. Printed: peak
memory and time per mode, chunked/whole ratios, and how far the chunked output is from the whole
one (relative RMS difference). Target: chunked peak ≤ 0.35× whole.

``--shape 32,32,64 --config cpu-tiny`` gives a run of seconds. ``--stages decode`` measures decoding
only (on CPUs the whole-volume MAISI decode takes tens of minutes): its latent is then seeded
standard-normal noise of the latent's shape instead of the encoded volume, which changes neither
the memory nor the time of a decode, only what is decoded.

Measured on a 2-core CPU, defaults 32/16 and 8/4. Encode (2026-12-04, shared machine, nice 10):
whole 8205 MB / 641 s, chunked 2079 MB / 507 s, peak ratio 0.253 (target met), relative RMS
difference 0.200. Decode (2026-12-05, ``--stages decode``, nice 10, load 2.4–3.8 from tests run
beside it): whole 14389 MB / 285 s, chunked 3685 MB / 425 s, peak ratio 0.256 (target met),
relative RMS difference 0.465 on a noise latent. Both differences are with *random* weights, whose
reach past a window edge is long (see ``hounsfield.recipes.slice_interp.chunking``); wider windows
bring them under the tested tolerance at the cost of memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hounsfield.data.ct_phantoms import ct_phantom
from hounsfield.recipes.slice_interp.chunking import (
    ChunkSettings,
    decode_chunked,
    encode_chunked,
    relative_rms_difference,
)
from hounsfield.recipes.slice_interp.vae import FrozenVAE, architecture

MODES = ("encode-whole", "encode-chunked", "decode-whole", "decode-chunked")


def _status_mb(field: str) -> float:
    """``VmRSS``/``VmHWM`` of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _child(mode: str, config: str, workdir: Path, settings: ChunkSettings) -> None:
    vae = FrozenVAE(config)
    source = np.load(workdir / ("volume.npy" if mode.startswith("encode") else "latent.npy"))
    data = torch.from_numpy(source)[None] if source.ndim == 4 else torch.from_numpy(source)[None, None]
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak resident set to the current one
    base = _status_mb("VmRSS")
    start = time.perf_counter()
    if mode == "encode-whole":
        out = vae.encode(data)
    elif mode == "encode-chunked":
        out = encode_chunked(vae, data, settings)
    elif mode == "decode-whole":
        out = vae.decode(data)
    else:
        out = decode_chunked(vae, data, settings)
    seconds = time.perf_counter() - start
    peak = _status_mb("VmHWM") - base
    np.save(workdir / f"{mode}.npy", out[0].numpy())
    print(json.dumps({"peak_mb": peak, "seconds": seconds}))


def _run_child(mode: str, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", mode, "--workdir", str(workdir), "--config", args.config]
    command += ["--chunks", args.chunks]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _settings(text: str) -> ChunkSettings:
    values = [int(v) for v in text.split(",")]
    if len(values) != 4:
        raise SystemExit("--chunks takes encode_chunk,encode_overlap,decode_chunk,decode_overlap")
    return ChunkSettings(*values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shape", default="256,256,128", help="x,y,z of the volume (multiples of 4)")
    parser.add_argument("--config", default="maisi", help="VAE configuration: maisi or cpu-tiny")
    parser.add_argument(
        "--chunks", default="32,16,8,4", help="encode chunk,overlap (slices),decode chunk,overlap (latent)"
    )
    parser.add_argument("--stages", default="encode,decode", help="encode, decode or both (comma-separated)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = _settings(args.chunks)
    if args.child:
        _child(args.child, args.config, args.workdir, settings)
        return
    shape = tuple(int(v) for v in args.shape.split(","))
    with tempfile.TemporaryDirectory(prefix="maisi-chunking-") as tmp:
        workdir = Path(tmp)
        hu = ct_phantom(shape, seed=0).astype(np.float32)  # type: ignore[arg-type]
        np.save(workdir / "volume.npy", np.clip((hu + 1024.0) / 2048.0, 0.0, 1.0))
        print(
            f"volume 1×1×{'×'.join(map(str, shape))}, VAE {args.config} (random weights), {settings}",
            flush=True,
        )
        stages = [stage for stage in ("encode", "decode") if stage in args.stages.split(",")]
        if not stages:
            raise SystemExit("--stages takes encode, decode or encode,decode")
        if "encode" not in stages:
            channels = architecture(args.config).latent_channels  # the VAE downsamples by 4
            latent_shape = (channels, shape[0] // 4, shape[1] // 4, shape[2] // 4)
            noise = np.random.default_rng(0).standard_normal(latent_shape).astype(np.float32)
            np.save(workdir / "latent.npy", noise)
        results: dict[str, dict[str, float]] = {}
        for mode in [mode for mode in MODES if mode.split("-")[0] in stages]:
            results[mode] = _run_child(mode, args, workdir)
            if mode == "encode-whole":
                np.save(workdir / "latent.npy", np.load(workdir / "encode-whole.npy"))
            peak, seconds = results[mode]["peak_mb"], results[mode]["seconds"]
            print(f"{mode:15s} peak {peak:9.1f} MB   time {seconds:8.1f} s", flush=True)
        for stage in stages:
            whole, chunked = results[f"{stage}-whole"], results[f"{stage}-chunked"]
            diff = relative_rms_difference(
                torch.from_numpy(np.load(workdir / f"{stage}-chunked.npy")),
                torch.from_numpy(np.load(workdir / f"{stage}-whole.npy")),
            )
            ratio = chunked["peak_mb"] / whole["peak_mb"]
            print(
                f"{stage}: chunked/whole peak {ratio:.3f} "
                f"(target ≤ 0.35: {'met' if ratio <= 0.35 else 'NOT met'}), "
                f"time {chunked['seconds'] / whole['seconds']:.2f}×, relative RMS difference {diff:.4f}"
            )


if __name__ == "__main__":
    main()
