"""Helpers shared by tests: races, whole-table reads, builders, stale-write interleaving."""
