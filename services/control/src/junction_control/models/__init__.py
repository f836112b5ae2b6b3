"""AI models (public names), their deployments on providers, and pricing."""
