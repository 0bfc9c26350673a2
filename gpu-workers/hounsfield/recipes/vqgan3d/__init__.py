"""The patch-wise 3-D VQGAN for CT volumes (``vqgan3d``).

The recipe lives in ``recipe.py``; ``python -m hounsfield.recipes.vqgan3d`` trains standalone.
"""

KIND = "vqgan3d"
VERSION = "1"
