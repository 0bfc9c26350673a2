"""PCDiff's voxelization network (Encode2Points + differentiable Poisson surface reconstruction).

The recipe lives in ``recipe.py``; ``python -m hounsfield.recipes.voxelization`` trains standalone.
"""

KIND = "voxelization"
VERSION = "1"
