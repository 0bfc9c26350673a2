"""``python -m hounsfield.recipes.pcdiff``: one training process (torchrun starts one per device)."""

from hounsfield.recipes.pcdiff.recipe import RECIPE
from hounsfield.recipes.runner import main

if __name__ == "__main__":
    main(RECIPE)
