"""The GPU worker agent (``python -m hounsfield.worker``).

Kept free of imports on purpose: ``python -m hounsfield.worker.launcher`` runs inside every trainer
start and must not pay for the agent's dependencies.
"""
