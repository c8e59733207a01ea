import random

import pandas as pd


def ingest(n_metrics: int = 5) -> pd.DataFrame:
    """Random metrics, each with a small chance of a spike, a drop or a plateau."""
    rows = []
    now = pd.Timestamp.utcnow().floor("min")
    for i in range(1, n_metrics + 1):
        value = random.gauss(5, 1)
        roll = random.random()
        if roll < 0.01:
            value *= 4  # spike
        elif roll < 0.02:
            value /= 4  # drop
        elif roll < 0.03:
            value = 5.0  # plateau
        rows.append({"metric_name": f"metric{i}", "metric_value": value, "metric_timestamp": now})
    return pd.DataFrame(rows)
