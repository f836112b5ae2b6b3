"""Benchmarks (`make bench`): ratios measured in one run, never timers asserted in tests."""
