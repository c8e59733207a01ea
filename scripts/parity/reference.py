#!/usr/bin/python3
"""Reference scores for the parity tests, with numpy + scikit-learn only (no PyOD).

Implements exactly the computation of test/fixtures/pyod/README.md: per metric, sort by timestamp and
average duplicates; diff_n=1, rolling mean smooth_n=3, lags_n=5, drop incomplete rows; train on all
rows but the last N (at most the newest 2,500) and score the last N; 0-1 score = raw decision score
min-max scaled by the training scores, clipped to [0, 1].
  PCA: StandardScaler, sklearn PCA (full), components signed as sklearn >= 1.5 does (largest |entry|
       of each row of V^T positive), raw = sum_j ||x - v_j|| / explained_variance_ratio_j.
  KNN: sklearn NearestNeighbors, distance to the 5th nearest training row (self excluded in training).
  ECOD, MAD (optional, --models): transcriptions of PyOD's formulas (ecod.py / mad.py).

Usage: reference.py IN.csv OUT.csv [--models PCA,KNN] [--score-n 25]
Output columns: metric_name, metric_timestamp, score_<MODEL>..., metric_score, metric_score_r3,
score_smooth, alert.
"""
import argparse
import csv
from collections import defaultdict
from datetime import datetime, timezone

import numpy as np
from scipy.stats import skew as scipy_skew
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

DIFF_N, SMOOTH_N, LAGS_N, TRAIN_MAX_N = 1, 3, 5, 2500


def read_metrics(path):
    series = defaultdict(lambda: defaultdict(list))
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            ts = datetime.strptime(row["metric_timestamp"], "%Y-%m-%d %H:%M:%S")
            series[row["metric_name"]][ts].append(float(row["metric_value"]))
    return {
        name: (sorted(by_ts), np.array([np.mean(by_ts[t]) for t in sorted(by_ts)]))
        for name, by_ts in series.items()
    }


def preprocess(times, values):
    s = np.full(len(values), np.nan)
    s[DIFF_N:] = values[DIFF_N:] - values[:-DIFF_N]
    smooth = np.full(len(s), np.nan)
    for i in range(SMOOTH_N - 1, len(s)):
        smooth[i] = s[i - SMOOTH_N + 1 : i + 1].mean()
    rows, kept = [], []
    for i in range(LAGS_N, len(smooth)):
        feats = [smooth[i - k] for k in range(LAGS_N + 1)]
        if np.all(np.isfinite(feats)):
            rows.append(feats)
            kept.append(times[i])
    return kept, np.array(rows)


def pca_scores(train, test):
    scaler = StandardScaler().fit(train)
    train_s, test_s = scaler.transform(train), scaler.transform(test)
    pca = PCA().fit(train_s)
    comps = pca.components_.copy()
    signs = np.sign(comps[np.arange(len(comps)), np.argmax(np.abs(comps), axis=1)])
    comps *= signs[:, None]
    w = pca.explained_variance_ratio_

    def raw(x):
        dist = np.sqrt(((x[:, None, :] - comps[None, :, :]) ** 2).sum(axis=2))
        return (dist / w).sum(axis=1)

    return raw(train_s), raw(test_s)


def knn_scores(train, test, k=5):
    nn = NearestNeighbors(n_neighbors=k).fit(train)
    train_d, _ = nn.kneighbors(n_neighbors=k)
    test_d, _ = nn.kneighbors(test, n_neighbors=k)
    return train_d[:, -1], test_d[:, -1]


def column_ecdf(x):
    """#{X_ij <= x} / n per column, as pyod.utils.stat_models.column_ecdf."""
    return np.stack([np.searchsorted(np.sort(c), c, side="right") / len(c) for c in x.T], axis=1)


def ecod_raw(x):
    u_l = -np.log(column_ecdf(x))
    u_r = -np.log(column_ecdf(-x))
    sk = np.sign(np.nan_to_num(scipy_skew(x, axis=0)))
    u_skew = u_l * -1 * np.sign(sk - 1) + u_r * np.sign(sk + 1)
    return np.maximum(u_skew, (u_l + u_r) / 2).sum(axis=1)


def ecod_scores(train, test):
    return ecod_raw(train), ecod_raw(np.concatenate([train, test]))[-len(test):]


def mad_scores(train, test):
    col = train[:, 0]
    med = np.nanmedian(col)
    mad = np.nanmedian(np.abs(col - med))
    with np.errstate(divide="ignore", invalid="ignore"):
        f = lambda x: np.nan_to_num(0.6745 * np.abs(x[:, 0] - med) / mad)  # noqa: E731
        return f(train), f(test)


MODELS = {"PCA": pca_scores, "KNN": knn_scores, "ECOD": ecod_scores, "MAD": mad_scores}


def unit_scores(train_raw, test_raw):
    lo, hi = train_raw.min(), train_raw.max()
    if hi == lo:
        return np.zeros(len(test_raw))
    return np.clip((test_raw - lo) / (hi - lo), 0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--models", default="PCA,KNN")
    ap.add_argument("--score-n", type=int, default=25)
    args = ap.parse_args()
    models = args.models.split(",")
    n_score = args.score_n
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["metric_name", "metric_timestamp", *[f"score_{m}" for m in models],
                    "metric_score", "metric_score_r3", "score_smooth", "alert"])
        for name, (times, values) in read_metrics(args.inp).items():
            kept, x = preprocess(times, values)
            if len(x) <= n_score:
                continue
            train, test = x[:-n_score][-TRAIN_MAX_N:], x[-n_score:]
            per_model = [unit_scores(*MODELS[m](train, test)) for m in models]
            metric_score = np.mean(per_model, axis=0)
            r3 = np.round(metric_score, 3)
            for i in range(n_score):
                smooth = r3[max(0, i - 3) : i + 1].mean()
                w.writerow([name, kept[len(kept) - n_score + i].strftime("%Y-%m-%d %H:%M:%S"),
                            *[f"{s[i]:.12g}" for s in per_model], f"{metric_score[i]:.12g}",
                            f"{r3[i]:.12g}", f"{smooth:.12g}", int(smooth >= 0.8)])


if __name__ == "__main__":
    main()
