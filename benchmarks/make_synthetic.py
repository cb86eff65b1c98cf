"""Write an N-times larger copy of the embedded UCI Adult files, for the scale benchmark.

Rows are resampled with replacement (seeded) and numeric columns jittered within the data
contract's ranges, so the copy has the same schema and roughly the same distribution but is
not N exact duplicates of each row (validate rejects a large share of duplicate rows). The
files keep the raw format (headerless CSV, `?` for missing, gzip), so they go through the
same ingest params as the embedded data: point `ingest.*_source` at them.

    python benchmarks/make_synthetic.py --factor 10 --out /tmp/adult-10x
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
SPLITS = {"train": "data/raw/adult.data.gz", "test": "data/raw/adult.test.gz"}
# column: (jitter, low, high); fnlwgt is a sampling weight, so a wide relative jitter keeps
# resampled rows distinct without touching anything a model should learn from
JITTER = {"age": (1, 17, 90), "hours-per-week": (2, 1, 99)}
FNLWGT_SPREAD = 0.5


def read_raw(path: Path, columns: list[str]) -> pd.DataFrame:
    # everything as text, '?' kept: the copy must look like the original to ingest
    return pd.read_csv(
        path,
        header=None,
        names=columns,
        dtype=str,
        keep_default_na=False,
        skipinitialspace=True,
        comment="|",
    )


def enlarge(frame: pd.DataFrame, factor: int, seed: int) -> pd.DataFrame:
    """`factor` x the rows, resampled and jittered; the input is not modified."""
    rng = np.random.default_rng(seed)
    rows = len(frame) * factor
    result = frame.iloc[rng.integers(0, len(frame), rows)].reset_index(drop=True)
    for column, (spread, low, high) in JITTER.items():
        values = result[column].astype(int).to_numpy()
        noise = rng.integers(-spread, spread + 1, rows)
        result[column] = np.clip(values + noise, low, high).astype(str)
    weights = result["fnlwgt"].astype(float).to_numpy()
    scale = rng.uniform(1 - FNLWGT_SPREAD, 1 + FNLWGT_SPREAD, rows)
    result["fnlwgt"] = np.maximum(np.rint(weights * scale), 1).astype(int).astype(str)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factor", type=int, required=True, help="rows multiplier, e.g. 10")
    parser.add_argument("--out", type=Path, required=True, help="directory for the files")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    columns = list(params["ingest"]["columns"])
    args.out.mkdir(parents=True, exist_ok=True)
    for offset, (split, source) in enumerate(SPLITS.items()):
        frame = enlarge(read_raw(REPO / source, columns), args.factor, args.seed + offset)
        target = args.out / f"adult-{split}-{args.factor}x.csv.gz"
        frame.to_csv(
            target, header=False, index=False, compression={"method": "gzip", "compresslevel": 1}
        )
        print(f"{target}: {len(frame)} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
