"""Operator commands of the worker package, over NATS as a worker (``python -m hounsfield.cli``).

python -m hounsfield.cli checkpoint download pcdiff-1:best:val_loss:min --out ./ckpt --worker node-1
python -m hounsfield.cli checkpoint upload ./step-000001200 --job pcdiff-1 --worker node-1

Everything a user does (import, list, download, submit) is the ``hounsfield`` command of the
client package (clients/python), over the gateway's HTTP API.
"""

from __future__ import annotations

import argparse
import logging
import sys

from hounsfield.checkpoints import commands as checkpoint_commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hounsfield.cli", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    subcommands = parser.add_subparsers(dest="command", required=True)
    checkpoint_commands.register(subcommands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        return int(args.handler(args))
    except Exception as error:  # one line a person can act on, not a traceback
        if args.verbose:
            raise
        sys.stderr.write(f"hounsfield {args.command}: {error}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
