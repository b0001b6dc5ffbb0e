#!/usr/bin/env python
"""Build the report: train every family's missing runs, execute the family notebooks with papermill, then
compare.ipynb, and turn the executed compare notebook into one self-contained HTML file,
outputs/<profile>/report.html.

    python build_report.py [--profile smoke|paper|study|full] [--only NAME,...] [--jobs N] [-p NAME=VALUE ...]
                           [--force] [--executor local|dask [--scheduler tcp://HOST:8786]]

Runs already stored with the same configuration are reused, so an unchanged rebuild trains nothing. Exit status:
0 when every notebook ran, 1 when one failed (the others and their runs are kept, the report says what is
missing), 2 for bad input (nothing is run). The build itself is lrlab.build.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "lib"))  # runs from a checkout before `pip install -e .`

from lrlab.build import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
