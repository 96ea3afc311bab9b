"""python -m dashboard.digest: the status e-mail (see dashboard.digest)."""

import sys

from dashboard.digest.cli import main

sys.exit(main())
