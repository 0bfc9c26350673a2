"""``python -m hounsfield.recipes.vqgan3d``: one training process (torchrun starts one per device)."""

from hounsfield.recipes.runner import main
from hounsfield.recipes.vqgan3d.recipe import RECIPE

if __name__ == "__main__":
    main(RECIPE)
