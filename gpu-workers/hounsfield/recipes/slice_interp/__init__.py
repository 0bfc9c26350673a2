"""CT slice interpolation (``slice_interp``): thick -> thin slices by latent diffusion on a frozen MAISI VAE.

The recipe lives in ``recipe.py``; ``python -m hounsfield.recipes.slice_interp`` trains standalone;
``inference.py`` loads a checkpoint for interpolation (``load_for_inference``). Building blocks:
``pairs`` (thick/thin pairs), ``vae`` (the frozen ``AutoencoderKlMaisi``), ``chunking`` (z-chunked
encode/decode, latent cache, scale factor), ``model`` (denoiser, schedules, DDIM sampling).
"""

KIND = "slice_interp"
VERSION = "1"
