"""Hounsfield's command-line client: the `hounsfield` command, over the gateway's HTTP API only."""

__version__ = "0.1.0"
