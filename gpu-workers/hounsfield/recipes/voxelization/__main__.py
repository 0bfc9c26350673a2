"""``python -m hounsfield.recipes.voxelization``: one training process (torchrun starts one per device)."""

from hounsfield.recipes.runner import main
from hounsfield.recipes.voxelization.recipe import RECIPE

if __name__ == "__main__":
    main(RECIPE)
