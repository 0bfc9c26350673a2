"""Model families, one package each (``hounsfield.recipes.<kind>``); see ``registry`` and README.md."""
