"""Users of the admin API and their memberships (roles) in tenants."""
