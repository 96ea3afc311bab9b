"""python -m dashboard.load: load a folder of contract CSV files (see dashboard.load)."""

import sys

from dashboard.load.cli import main

sys.exit(main())
