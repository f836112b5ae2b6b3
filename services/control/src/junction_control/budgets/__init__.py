"""Budget periods: what a key's or a tenant's budget spent in its current period."""
