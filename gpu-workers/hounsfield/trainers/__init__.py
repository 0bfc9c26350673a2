"""Built-in trainers, run by the worker agent as ``torchrun -m hounsfield.trainers.<kind>``.

Each trainer also runs as a plain script (``python -m hounsfield.trainers.pcdiff --preset cpu-tiny
--synthetic 6 --steps 50``) and takes its configuration from the job spec's ``config`` under the
platform. Shared pieces:

* ``ddp``: process group set-up and teardown (gloo on CPU, NCCL on GPU), collectives used by the loop;
* ``sampler``: a sampler over a fixed global sample order that splits each global batch over any
  world size and resumes from a global sample index; per-sample seeds make every draw independent
  of how the batch was split;
* ``config_base``: what every trainer config has (data, batch, optimiser, loop) and JSON overrides;
* ``skull_data``: the cases a run trains on (a prepared dataset, or synthetic skulls generated first);
* ``loop``: the training loop (accumulation, DDP, bf16 autocast on GPU, progress, SIGTERM, and
  checkpoints through the SDK's ``Run.save_checkpoint``/``load_checkpoint``);
* ``cli``: the shared command line.

Trainers: ``pcdiff`` (PVCNN2 point-cloud diffusion) and ``voxelization`` (Encode2Points + DPSR).
"""
