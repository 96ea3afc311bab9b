"""python -m dashboard.contract: write or check docs/data-contract.md (see dashboard.contract)."""

import sys

from dashboard.contract.cli import main

sys.exit(main())
