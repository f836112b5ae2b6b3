"""Role-based access control with Casbin: the model file, the policy table, the authorizer."""
