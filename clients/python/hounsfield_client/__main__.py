"""`python -m hounsfield_client`: the `hounsfield` command without its console script."""

from hounsfield_client.cli import main

main()
