"""A stand-in for the one piece of Dagster the original's Python examples use.

The original ran ingest functions inside Dagster ops, and seven of its examples call
``get_dagster_logger()``. The harness appends this folder to ``sys.path``, so an installed
``dagster`` still wins; without one, the logger writes to stderr, which the job log keeps.
Nothing else of Dagster is provided: any other import from it fails as it would without Dagster.
"""

import logging
import sys

__all__ = ["get_dagster_logger"]


def get_dagster_logger(name=None):
    logger = logging.getLogger("dagster" if name is None else "dagster." + name)
    root = logging.getLogger("dagster")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    return logger
