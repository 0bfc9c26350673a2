"""Topology-aware 3-D U-Net for thin surfaces (Vesuvius-style surface detection, issue #15).

The recipe lives in ``recipe.py``; ``python -m hounsfield.recipes.topo_unet`` trains standalone and
``python -m hounsfield.recipes.topo_unet.infer`` predicts whole volumes.
"""

KIND = "topo_unet"
VERSION = "1"
