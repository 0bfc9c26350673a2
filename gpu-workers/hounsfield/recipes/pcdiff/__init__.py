"""PCDiff (Friedrich et al., MICCAI 2023): point-cloud diffusion for cranial implants.

The recipe lives in ``recipe.py`` (imported on demand: this module stays light so workers can list
their kinds without importing torch); ``python -m hounsfield.recipes.pcdiff`` trains standalone.
"""

KIND = "pcdiff"
VERSION = "1"
