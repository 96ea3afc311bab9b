"""The forecast's limits: how many outcomes it draws, the bounds of its parameters and inputs, its horizon."""

from __future__ import annotations

from typing import Literal

N_DRAWS = 4000
# The forecast with the enrollment history draws every open site's rate and whether it still enrolls, per draw: half
# the draws keep one trial of 100 sites well under 50 ms (bench/forecast.md), and move P10–P90 by about a day.
N_DRAWS_WITH_HISTORY = 2000
# α above this is the Poisson limit (site counts no more variable than chance): the ML α runs to
# infinity for under-dispersed counts, so it is capped here (domain.md §3, numerics).
ALPHA_CAP = 1000.0
ALPHA_FLOOR = 0.01
# Fewer sites with time open than this, or nobody enrolled, and the data are too thin to fit.
MIN_FIT_SITES = 3
# Site-to-site spread assumed with the planned rate when the data are too thin: Gamma shape 2
# (coefficient of variation 0.71: sites differ, but not wildly).
PRIOR_SHAPE = 2.0
# A completion beyond this many days from as_of is reported as no date (None).
HORIZON_DAYS = 36525
# Beyond these an input is a data error, not a trial (and would overflow the arithmetic).
MAX_DAYS = 1e6
MAX_SUBJECTS = 10**9
MAX_RATE = 1e3  # subjects per site per day
# A site that enrolled on the day it opened (days_open 0) counts as open for this long.
MIN_DAYS_OPEN_WITH_ENROLLED = 1.0

Method = Literal["poisson-gamma", "prior"]
