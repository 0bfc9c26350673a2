"""Slice interpolation (thick -> thin CT) on a frozen MAISI VAE: in progress, not a registered recipe yet.

What exists: ``pairs`` (thick/thin training pairs from thin-slice volumes), ``vae`` (the frozen
``AutoencoderKlMaisi``, weights checked before any GPU is claimed), ``chunking`` (z-chunked encode
and decode with blended overlaps, the per-case latent cache and the latent scale factor). The
denoiser, the trainer and the evaluation come later; until then the kind is refused at submission.
"""

KIND = "slice_interp"
