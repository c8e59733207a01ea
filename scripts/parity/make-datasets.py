#!/usr/bin/python3
"""Builds the small parity data sets under test/fixtures/parity/ and their reference scores.

Each data set is an input CSV (metric_name,metric_timestamp,metric_value) plus <name>.ref.csv from
reference.py; manifest.json lists the models and score-n each was scored with. Run from the repo:
    /usr/bin/python3 scripts/parity/make-datasets.py [test/fixtures/nab/data]
"""
import csv
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "test" / "fixtures" / "parity"
NAB = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "test" / "fixtures" / "nab" / "data"
FMT = "%Y-%m-%d %H:%M:%S"


def write(name, rows):
    with open(OUT / f"{name}.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["metric_name", "metric_timestamp", "metric_value"])
        w.writerows(rows)


def synthetic_duplicates():
    """Irregular 1-3 minute spacing, ~5% duplicate timestamps, spikes and a level shift."""
    rng = np.random.default_rng(11)
    rows = []
    for m in range(5):
        t = datetime(2024, 3, 1)
        level = rng.uniform(10, 1000)
        for i in range(250):
            t += timedelta(minutes=int(rng.integers(1, 4)))
            v = level * (1 + 0.05 * rng.standard_normal()) + (level * 0.5 if i > 235 and m % 2 else 0)
            if rng.random() < 0.01:
                v += level * rng.uniform(1, 3)
            rows.append([f"dup_{m}", t.strftime(FMT), round(v, 3)])
            if rng.random() < 0.05:
                rows.append([f"dup_{m}", t.strftime(FMT), round(v * rng.uniform(0.9, 1.1), 3)])
    rng.shuffle(rows)  # input order must not matter
    return rows


def synthetic_counters():
    """Integer-valued series with flat stretches: many tied values and tied distances."""
    rng = np.random.default_rng(23)
    rows = []
    for m in range(4):
        t = datetime(2024, 5, 1)
        total = 0
        for i in range(300):
            t += timedelta(minutes=10)
            step = 0 if (i // 40) % 3 == 2 else int(rng.poisson(3 + m))
            total += step + (50 if i == 285 and m < 2 else 0)
            rows.append([f"cnt_{m}", t.strftime(FMT), total])
    return rows


def nab_series():
    """Windows of three real NAB series (the newest points of each window get scored)."""
    picks = [
        ("nab_taxi", "realKnownCause/nyc_taxi.csv", 10320 - 400, 400),
        ("nab_latency", "realKnownCause/ec2_request_latency_system_failure.csv", 3450, 400),
        ("nab_machine", "realKnownCause/machine_temperature_system_failure.csv", 16050, 400),
    ]
    rows = []
    for name, path, start, count in picks:
        with open(NAB / path) as f:
            lines = list(csv.reader(f))[1:]
        rows += [[name, ts, v] for ts, v in lines[start : start + count]]
    return rows


DATASETS = {
    "synthetic-duplicates": (synthetic_duplicates, "PCA,KNN,ECOD,MAD", 30),
    "synthetic-counters": (synthetic_counters, "PCA,KNN,ECOD,MAD", 40),
    "nab-windows": (nab_series, "PCA,KNN,ECOD,MAD", 25),
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, (build, models, score_n) in DATASETS.items():
        write(name, build())
        subprocess.run([sys.executable, str(HERE / "reference.py"), str(OUT / f"{name}.csv"),
                        str(OUT / f"{name}.ref.csv"), "--models", models, "--score-n", str(score_n)], check=True)
        manifest[name] = {"models": models.split(","), "scoreN": score_n}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
