"""Sponsor portfolio dashboard core: settings, database, schema, metrics, charts, demo data."""
