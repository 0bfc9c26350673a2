"""The `hounsfield` subcommands, one module per noun."""
