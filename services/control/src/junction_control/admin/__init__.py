"""The admin API (``/api/v1``) tenant admins and the console talk to."""
