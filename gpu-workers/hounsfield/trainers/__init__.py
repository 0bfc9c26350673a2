"""The shared training loop every recipe (``hounsfield.recipes.<kind>``) runs on.

* ``parts``: what a recipe hands the loop (model, loss with per-term outputs, dataset, EMA,
  auxiliary networks such as a discriminator, validation);
* ``config_base``: what every recipe config has (data, batch, optimiser, LR schedule, validation,
  loop switches) and how presets take JSON overrides;
* ``loop`` / ``step`` / ``validation``: accumulation, DDP, bf16 autocast on GPU, progress and
  ``loss.<term>`` reports, ``val.<metric>`` validation, SIGTERM, checkpoints through the SDK;
* ``optim``: Adam/AdamW over trainable parameters only, constant/cosine schedules with warm-up;
* ``sampler``: a global sample order that splits each global batch over any world size and
  resumes from a global sample index; per-sample seeds make every draw independent of the split;
* ``ddp``: process group set-up (gloo on CPU, NCCL on GPU), collectives, the error-path exit;
* ``warm_start``: initial weights from ``checkpoint.initFrom``.
"""
