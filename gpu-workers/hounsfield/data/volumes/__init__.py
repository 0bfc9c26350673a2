"""Intensity volumes (CT, CTPA, micro-CT scans): readers, windowing, resampling, preparation.

**The canonical frame** (every reader returns it; everything downstream assumes it):

* array axes are ``(x, y, z)``: ``data[i, j, k]``; for axial CT, ``i`` runs along the rows'
  columns (left-right), ``j`` front-back and ``k`` along the slices (feet-head);
* the axes are reoriented (permuted and flipped, never interpolated) to the closest **RAS+**
  orientation: index ``i`` grows from the patient's left towards the Right, ``j`` towards
  Anterior, ``k`` towards Superior (nibabel's ``as_closest_canonical``);
* ``spacing`` is mm per array axis and ``affine`` maps ``(i, j, k, 1)`` to RAS+ mm (an oblique
  acquisition keeps its residual rotation in ``affine``);
* shapes and patch sizes are written in the same order, e.g. a 512×512×604 CTPA volume has 604
  axial slices and a 256×256×128 patch is 128 slices deep.

NIfTI (any affine), NRRD (``space`` LPS/RAS/... and ``space directions``), DICOM series (LPS
patient space, via SimpleITK) are converted by their affine. TIFF stacks have no orientation:
columns are x, rows are y, pages (or files in name order) are z, and the spacing is given by the
caller; they are read lazily, page by page.

Modules: ``io`` (readers, :class:`ImageVolume`), ``windowing`` (HU presets), ``resample``
(target spacing), ``prepare`` (validation, exclusions, patient split, manifest; also a CLI).
"""

from hounsfield.data.volumes.io import ImageVolume, LazyTiffStack, canonical, read_image, write_nifti
from hounsfield.data.volumes.resample import resample_to_spacing
from hounsfield.data.volumes.windowing import WINDOW_PRESETS, Window, apply_window

__all__ = [
    "WINDOW_PRESETS",
    "ImageVolume",
    "LazyTiffStack",
    "Window",
    "apply_window",
    "canonical",
    "read_image",
    "resample_to_spacing",
    "write_nifti",
]
