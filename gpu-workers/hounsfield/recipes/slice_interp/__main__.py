"""``python -m hounsfield.recipes.slice_interp``: one training process (torchrun starts one per device)."""

from hounsfield.recipes.runner import main
from hounsfield.recipes.slice_interp.recipe import RECIPE

if __name__ == "__main__":
    main(RECIPE)
