"""The audit log: one row for every write through the admin API."""
