"""Scoped, as-of aware query functions, one module per subject area."""
