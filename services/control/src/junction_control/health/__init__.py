"""Provider health: the breaker states engines report, and the admin read of them."""
