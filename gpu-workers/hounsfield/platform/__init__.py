"""Talking to the platform from Python: everything outside the worker agent that needs a service.

* ``nats``: the NATS connection settings and options every Python client uses (credentials,
  inbox prefix), read from the environment the agent gives built-in tasks and the CLI.
* ``checkpoint_client``: the checkpoint service's worker calls (upload, resolve, download grants).
* ``checkpoint_transfer``: moving one part through a grant (presigned S3 URL or the fs store).
* ``checkpoint_upload`` / ``checkpoint_download``: whole checkpoints, verified against manifests.
* ``evaluation_client``: an evaluation shard's calls to the evaluation service.

The worker agent (``hounsfield.worker``) builds on these; nothing outside it imports the agent (a
test holds that), so checkpoints, evaluation and the trainers never depend on its internals.
"""
