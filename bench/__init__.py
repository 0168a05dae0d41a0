"""Benchmarks of the controller on the real local control plane (not run by the test suite)."""
