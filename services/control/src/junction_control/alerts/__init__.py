"""Budget alerts: a signed webhook per tenant when a budget passes a threshold."""
