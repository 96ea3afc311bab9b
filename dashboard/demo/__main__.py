"""python -m dashboard.demo: build the demo portfolio (see dashboard.demo)."""

import sys

from dashboard.demo.cli import main

sys.exit(main())
