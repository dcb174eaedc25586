"""Reusable test helpers and tolerances (imported by tests/ and by users' own checks)."""
