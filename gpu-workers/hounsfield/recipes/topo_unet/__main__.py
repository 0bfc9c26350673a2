"""``python -m hounsfield.recipes.topo_unet``: one training process (torchrun starts one per device)."""

from hounsfield.recipes.runner import main
from hounsfield.recipes.topo_unet.recipe import RECIPE

if __name__ == "__main__":
    main(RECIPE)
