"""Methods & definitions: what every figure on the dashboard means, in plain words (from domain.md)."""

import streamlit as st

from dashboard import ui
from dashboard.metrics import HEALTH_LABEL
from dashboard.settings import get_settings

# No figures here, but like every page it is shown only after the frame has signed the user in.
ui.context()
settings = get_settings()

st.title("Methods & definitions")
st.caption("Every number on the dashboard, what it is a ratio of, and where the definition comes from.")

st.header("Dates and scope")
st.markdown(
    """
- **As of**: every figure is computed from the facts dated on or before this date, so the dashboard can be
  shown as it was on any past day. Forecasts are the ones recorded on or before it.
- **Compare with** (since): the earlier date that changes are measured from; by default a week before *as of*.
- You see only the trials of the sponsors you are granted; a link cannot widen that.
"""
)

st.header("Enrollment")
st.markdown(
    """
| Figure | Definition |
|---|---|
| Screened | Subjects with a screening date on or before *as of* |
| Screen-failure rate | Screen failures ÷ screened subjects whose screening outcome is known |
| Enrolled | Subjects randomized / enrolled on or before *as of*; screen failures never count |
| Dropout rate | Enrolled subjects who discontinued before completing ÷ enrolled |
| Enrollment rate | Enrolled ÷ site-months open (from activation to *as of* or closure) |
| Non-enrolling site | Active for at least %d days with nobody enrolled (industry: about one site in three) |
| %% to target | Enrolled ÷ the trial's planned enrollment |
| Planned to date | The baseline plan's cumulative enrollment on *as of* (linear within the month) |
"""
    % settings.non_enrolling_days
)

st.header("Last-patient-in forecast")
st.markdown(
    """
Each site enrolls at its own rate; the rates across sites follow a Gamma distribution fitted to the sites'
history (the Poisson-Gamma model of Anisimov & Fedorov, 2007). The forecast gives a range for the date
the last patient is in (P10, P50, P90), the probability of meeting the planned date, and how many extra sites
would bring that probability to 80 %.
"""
)

st.header("Site quality")
st.markdown(
    """
| Indicator | Numerator ÷ denominator |
|---|---|
| Data-entry lag | Mean days from visit to data entry (each capped at 60); % of visits entered more than 10 days late |
| Query aging | Queries open more than 30 days ÷ all queries; median days to close |
| Query rate | Queries ÷ visits entered |
| Protocol deviation rate | Important deviations per 100 subject-months on study |

A site is flagged when it is unusual among the sites of the same trial: its z-score, adjusted for
over-dispersion, is beyond 2 (amber) or 3 (red) on the bad side. Sites with too little data are not flagged.
"""
)

st.header("Budget: earned value")
st.markdown(
    """
| Figure | Definition |
|---|---|
| BAC | Budget at completion: contract value + approved change orders |
| PV | Planned value: cumulative planned spend to date under the approved plan |
| EV | Earned value: units of work delivered × contracted unit prices, plus milestone fees achieved |
| AC | Actual cost: invoiced + accrued |
| CPI, SPI | EV ÷ AC (cost efficiency), EV ÷ PV (schedule efficiency) |
| EAC | Estimate at completion: BAC ÷ CPI; also AC + (BAC − EV), the "atypical" estimate |
| VAC | Variance at completion: BAC − EAC |
| Budget spent | AC ÷ BAC |

A ratio whose denominator is zero is undefined and shown as "—". Amounts are in the sponsor's reporting currency.
"""
)

st.header("Vendor milestones")
st.markdown(
    f"""
- **Slip**: done → actual − baseline; not done and not yet due → forecast − baseline; overdue → the later of
  the forecast and *as of*, minus the baseline.
- **Status**: done on time, done late, overdue (baseline passed, not done), forecast late, on track.
- **Colour**: red when the slip exceeds {settings.milestone_red_days} days; amber when it exceeds
  {settings.milestone_amber_days} days or the milestone is overdue.
- **Supply risk**: margin = date of the clinical milestone − lead time − date of the supply milestone it needs
  (each the actual if done, else the current forecast). A negative margin is a conflict (days of conflict =
  −margin); a margin under {settings.supply_near_miss_days} days is a near miss.
- **What moved**: milestones whose forecast recorded on the compare date differs from the one on *as of*.
- **Vendor scorecard**: on-time rate = milestones done on time ÷ milestones done; mean and worst slip; overdue;
  due in the next 30/60/90 days; fees of open milestones due within 90 days. Only the trials you may see count,
  although vendors work for several sponsors.
"""
)

st.header("Health colours")
st.markdown(
    f"""
Colours always come with a label: {", ".join(HEALTH_LABEL.values())}.

- **Enrollment**: enrolled ÷ planned to date ≥ {settings.enrollment_green:.0%} on track, ≥ {settings.enrollment_amber:.0%} watch,
  below at risk; not yet enrolling: no data. Once a forecast exists: probability of meeting the planned
  last-patient-in date ≥ {settings.probability_green:.0%} on track, ≥ {settings.probability_amber:.0%} watch.
- **Budget**: CPI ≥ {settings.index_green:.2f} on track, ≥ {settings.index_amber:.2f} watch, below at risk.
- **Schedule**: the worst colour among the trial's open milestones due within {settings.schedule_horizon_days} days or overdue.
- **Overall**: the worst of the three.
"""
)

st.header("Freshness")
st.markdown(
    f"Every page says when its data was last loaded; data older than {settings.stale_after_hours:g} hours shows a warning."
)
