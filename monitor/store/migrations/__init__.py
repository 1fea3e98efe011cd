"""Alembic migrations for the driftwatch schema."""
