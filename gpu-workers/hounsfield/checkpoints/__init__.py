"""The checkpoint format, its manifest, and the import of legacy files.

A checkpoint is a directory::

    step-000001200/
        model.safetensors   state["model"]: the weights (a flat name → tensor dict)
        optimizer.pt        every other state key, torch.save of CPU tensors, loaded with weights_only=True
        sampler.pt          ...
        meta.json           CheckpointMeta (libs/contracts): job, attempt, step, epoch, world size,
                            resolved batch/LR, metrics, config hash, format version, state files

Every tensor is on the CPU, so a checkpoint written on 8 GPUs loads on 1 or none. The directory is
written under a temporary name and renamed into place, so it is complete or absent. Stored in the
object store, each file is cut into parts and listed in a manifest (size and sha256 of the file and
of each part), which the checkpoints service verifies before the checkpoint becomes visible.

Importing this package does not import torch; the modules that need it import it themselves.
"""
