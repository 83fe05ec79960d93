"""Databases, schema versions and migrations: Flyway-style history, the Postgres lock queue, execution models."""
