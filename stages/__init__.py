"""The reference ML pipeline: one module per DVC stage (see dvc.yaml)."""

import gc
import sys

# dvc runs a stage as `python -m stages.<name>`; Python imports this package while it is
# still locating the stage module, and says so with sys.argv[0] == "-m" (documented for -m).
# The stage module's imports (scikit-learn, scipy, pandas, pyarrow: objects that live until
# the process exits) then run without the cyclic garbage collector, which otherwise ran
# ~450 times during them, ~0.3 s of a model stage's ~3 s. common.run_stage freezes what the
# imports made and turns the collector back on before any work, so the work's garbage is
# collected as usual. Imported any other way (tests, a notebook), this package changes
# nothing.
if sys.argv[:1] == ["-m"]:
    gc.disable()
