"""Helpers that tests and benchmarks share (local servers, episode fixtures)."""
