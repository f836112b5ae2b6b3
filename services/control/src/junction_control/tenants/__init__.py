"""Tenants: the isolation unit every other row belongs to."""
