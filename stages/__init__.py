"""The reference ML pipeline: one module per DVC stage (see dvc.yaml).

Process start-up, the one place where the stages trade plain code for speed. dvc runs a
stage as `python -m stages.<name>`; Python imports this package while it is still locating
the stage module (and says so with sys.argv[0] == "-m", documented for -m), so what runs
here runs before the stage module's imports. Imported any other way (tests, a notebook,
another stage module), this package changes nothing. Two things, each measured:

- No cyclic garbage collector during the imports (scikit-learn, scipy, pandas, pyarrow:
  objects that live until the process exits; the collector ran ~450 times over them).
  `common.run_stage` calls `imports_done` to freeze what they made and turn the collector
  back on before any work, and `work_done` so that the collection at exit skips them.
- The model stages (MODEL_STAGES) import scipy.special first. On import, skops lists
  scipy's ufuncs to trust by default and finds the module of each one (they carry no
  `__module__`) by trying every module already imported, in import order, until one holds
  it. Imported after pandas and scikit-learn, scipy.special stands ~950 modules down the
  list; imported here, ~200. Same names found (tests/stages/test_modelio.py checks both).
  The other stages never import it.

Measured 2026-12-02 on an AMD EPYC host (2 cores shared with other jobs, load ~5): CPU
seconds (user + sys, getrusage of the child) of `python -m stages.<name>` with dvc.yaml's
arguments on this repository's data, median of 7 interleaved runs; each row is a copy of
this package with one thing removed (wall times were too noisy on the shared host):

                        ingest   drift   train
    as here               1.19    1.98    3.17
    collector on          1.38    2.31    4.13
    scipy.special late    1.12    1.96    3.69   (ingest, drift: no model, no change)
    neither               1.29    2.49    4.88
"""

from __future__ import annotations

import gc
import sys

# the stages that save or load a model with skops (stages/modelio.py)
MODEL_STAGES = ("stages.featurize", "stages.train", "stages.evaluate", "stages.score")


def _stage_starting() -> str | None:
    """The module `python -m <module>` is starting, while Python imports this package to
    locate it; None when the package is imported any other way."""
    if sys.argv[:1] != ["-m"]:
        return None
    args = sys.orig_argv
    return args[args.index("-m") + 1] if "-m" in args[:-1] else None


def imports_done() -> None:
    """The stage module's imports ran: freeze what they made (later collections skip it) and
    collect the work's garbage as usual."""
    gc.freeze()
    gc.enable()


def work_done() -> None:
    """Outputs are written and closed, the process is about to exit: Python's last garbage
    collection would walk every object the imports made (~0.3 s); frozen ones are skipped,
    and nothing here needs a finalizer."""
    gc.freeze()


_starting = _stage_starting()
if _starting is not None:
    gc.disable()
    if _starting in MODEL_STAGES:
        import scipy.special  # noqa: F401
