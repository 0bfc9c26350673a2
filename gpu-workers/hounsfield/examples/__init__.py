"""Small trainers that use the SDK: fixtures for end-to-end tests and the demo.

* ``count``: reports N steps of a falling fake loss (``--ignore-sigterm`` simulates a trainer that
  never stops on request);
* ``exit_code``: reports once, logs to stderr and exits with ``--code``;
* ``tiny_train``: a real PyTorch regression, DDP over gloo when WORLD_SIZE > 1;
* ``health_faults``: a falling loss with a chosen fault (NaN, spike, stall, data-bound) for the
  metrics service's training-health alerts.
"""
