"""``python -m evals [DATASET...]``: the same as ``appeals eval``."""

from __future__ import annotations

import sys

from evals.cli import main

sys.exit(main())
