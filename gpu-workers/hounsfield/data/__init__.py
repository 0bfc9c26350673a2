"""Skull data for PCDiff and its voxelizer.

Modules: ``volume_io`` (NRRD/NIfTI with spacing), ``cases`` (SkullBreak/SkullFix layouts),
``synthetic_skulls`` (generator writing the SkullBreak layout), ``prepare`` (validation, exclusion
report, subject-level split), ``surface`` and ``dense_samples`` (marching cubes, area-weighted
sampling, cached), ``coordinates`` (voxel <-> mm <-> normalised <-> PSR frames), ``psr_grid``
(ground-truth PSR grid, PSR field -> voxel occupancy) and ``skullbreak`` (torch datasets).

Intensity volumes (CT): ``volumes`` (readers into one canonical frame, windowing, resampling,
preparation with a manifest), ``ct_phantoms`` (synthetic chest CT) and ``patches`` (patch grids,
overlap blending).
"""
