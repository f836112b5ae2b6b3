"""Providers (upstream APIs) and their encrypted credentials."""
