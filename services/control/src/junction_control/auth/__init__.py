"""Admin sessions: logging in with a password, bearer session tokens."""
