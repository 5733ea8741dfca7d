"""Load and scale benchmarks (see README.md); not tests."""
