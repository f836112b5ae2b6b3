"""Credit accounts: a balance per tenant and the append-only ledger behind it."""
