"""Neural network models trained and evaluated by Hounsfield.

``pvcnn2`` (with ``pvcnn2_config`` and ``pvcnn_blocks``) is PCDiff's point-cloud noise predictor.
"""
