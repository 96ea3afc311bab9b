"""Published snapshots: the figures, forecasts and composed parts of each trial, computed where data is written.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

New tables only (dashboard/snapshot.py writes them, dashboard/published.py says what they hold); a database without
snapshots answers exactly as before, computing every view live.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('snapshot',
    sa.Column('as_of_date', sa.Date(), nullable=False, comment='The as-of date the figures were computed for'),
    sa.Column('compare_date', sa.Date(), nullable=False, comment='The compare date of its changes (since): a week earlier'),
    sa.Column('published_at', sa.DateTime(), nullable=False, comment='UTC time the snapshot was written'),
    sa.Column('loaded_at', sa.DateTime(), nullable=True, comment='UTC time of the data load it was computed from'),
    sa.Column('settings_key', sa.String(length=16), nullable=False, comment='Fingerprint of the threshold settings it was computed with; a server with others computes live'),
    sa.Column('n_trials', sa.Integer(), nullable=False, comment='Trials published'),
    sa.CheckConstraint('n_trials >= 0', name=op.f('ck_snapshot_n_trials_not_negative')),
    sa.PrimaryKeyConstraint('as_of_date', name=op.f('pk_snapshot')),
    info={'grain': 'One row per published as-of date.', 'natural_key': ('as_of_date',), 'snapshot': True}
    )
    op.create_table('snapshot_figure',
    sa.Column('as_of_date', sa.Date(), nullable=False, comment='The snapshot (snapshot.as_of_date)'),
    sa.Column('protocol_number', sa.String(length=32), nullable=False, comment='The trial'),
    sa.Column('figure_key', sa.String(length=40), nullable=False, comment='The figure (dashboard/registry.py)'),
    sa.Column('value_number', sa.Float(), nullable=True, comment='Its value, when a number'),
    sa.Column('value_date', sa.Date(), nullable=True, comment='Its value, when a date'),
    sa.Column('display', sa.String(length=80), nullable=False, comment='Its value as its tile shows it'),
    sa.Column('health', sa.String(length=10), nullable=True, comment='Its colour, where it has one'),
    sa.ForeignKeyConstraint(['as_of_date'], ['snapshot.as_of_date'], name=op.f('fk_snapshot_figure_as_of_date_snapshot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('as_of_date', 'protocol_number', 'figure_key', name=op.f('pk_snapshot_figure')),
    info={'grain': "One row per published date × trial × figure of the registry (the trial's own figures).", 'natural_key': ('as_of_date', 'protocol_number', 'figure_key'), 'snapshot': True}
    )
    op.create_table('snapshot_forecast',
    sa.Column('as_of_date', sa.Date(), nullable=False, comment='The snapshot (snapshot.as_of_date)'),
    sa.Column('protocol_number', sa.String(length=32), nullable=False, comment='The trial'),
    sa.Column('lpi_p10_date', sa.Date(), nullable=True, comment='Last patient in: 10th percentile of the forecast'),
    sa.Column('lpi_p50_date', sa.Date(), nullable=True, comment='Last patient in: median of the forecast'),
    sa.Column('lpi_p90_date', sa.Date(), nullable=True, comment='Last patient in: 90th percentile of the forecast'),
    sa.Column('p_meet_plan', sa.Float(), nullable=True, comment='Probability of the last patient in by the planned date'),
    sa.Column('sites_needed', sa.Integer(), nullable=True, comment='Extra sites that bring that probability to the green threshold'),
    sa.Column('planned_lpi_date', sa.Date(), nullable=True, comment='The planned last patient in (baseline)'),
    sa.Column('is_complete', sa.Boolean(), nullable=False, comment='Enrollment had reached its target'),
    sa.Column('completed_date', sa.Date(), nullable=True, comment='When it reached the target, if it had'),
    sa.ForeignKeyConstraint(['as_of_date'], ['snapshot.as_of_date'], name=op.f('fk_snapshot_forecast_as_of_date_snapshot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('as_of_date', 'protocol_number', name=op.f('pk_snapshot_forecast')),
    info={'grain': 'One row per published date × trial: its enrollment forecast.', 'natural_key': ('as_of_date', 'protocol_number'), 'snapshot': True}
    )
    op.create_table('snapshot_part',
    sa.Column('as_of_date', sa.Date(), nullable=False, comment='The snapshot (snapshot.as_of_date)'),
    sa.Column('protocol_number', sa.String(length=32), nullable=False, comment='The trial'),
    sa.Column('part_name', sa.String(length=40), nullable=False, comment='Which frame of the composed parts: trial_health.trials, flagged_sites.sites, …'),
    sa.Column('payload', sa.LargeBinary(), nullable=False, comment="The trial's rows of that frame, as an Arrow IPC stream"),
    sa.ForeignKeyConstraint(['as_of_date'], ['snapshot.as_of_date'], name=op.f('fk_snapshot_part_as_of_date_snapshot'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('as_of_date', 'protocol_number', 'part_name', name=op.f('pk_snapshot_part')),
    info={'grain': "One row per published date × trial × frame of the parts a view's figures are computed from (dashboard/published.py).", 'natural_key': ('as_of_date', 'protocol_number', 'part_name'), 'snapshot': True}
    )


def downgrade() -> None:
    op.drop_table('snapshot_part')
    op.drop_table('snapshot_forecast')
    op.drop_table('snapshot_figure')
    op.drop_table('snapshot')
