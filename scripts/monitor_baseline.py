"""The release that scored the judged batch, named as ``mlgate check --baseline`` takes it.

``make monitor-gate-labelled`` judges a batch whose labels arrived after it was scored. Its
realized performance measures the model that scored it, so the fair yardstick is that
release's test figures, not those of whichever release ``prod`` holds once the labels are
in: after a retraining and a promotion those belong to another model (and are usually
higher, as every retrained model is tested on the same split), which would make the gate
stricter than its rules say and start retraining pull requests for nothing.

Prints ``<artifact>@<version>`` for the ``model_version`` that ``monitoring/metrics.json``
names (``make monitor BATCH=<id>`` writes it from the batch's prediction log). Prints
nothing when the metrics name no version, and warns and prints nothing when the registry no
longer has that release: the gates' own ``baseline`` (``stage:prod``) then applies.

Usage: python -m scripts.monitor_baseline [--metrics monitoring/metrics.json]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mlgate.dvcfiles import read_text_file
from mlgate.errors import MlgateError
from mlgate.loaders import parse_structured

METRICS = Path("monitoring/metrics.json")


def scored_by(metrics: Path, root: Path = Path(".")) -> str | None:
    """The release tag of the version that scored the batch ``metrics`` judges; None when
    they name no version. A version the registry does not have raises ``StageError``."""
    from stages.released import resolve

    text = read_text_file(metrics)  # unreadable or not UTF-8: an InputError naming it
    if text is None:
        raise MlgateError(f"{metrics}: not found")
    data = parse_structured(text, str(metrics), str(metrics))
    version = data.get("model_version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version:
        return None
    return resolve(version=version, root=root).tag


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", type=Path, default=METRICS)
    args = parser.parse_args(argv)
    from stages.common import StageError

    try:
        tag = scored_by(args.metrics)
    except StageError as exc:
        warning = f"::warning::monitor-baseline: {exc}; judging against the gates' baseline"
        print(warning, file=sys.stderr)  # stdout is the baseline
        return 0
    except MlgateError as exc:
        print(f"::error::monitor-baseline: {exc}", file=sys.stderr)
        return 2
    if tag is not None:
        print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
