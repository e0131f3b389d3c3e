"""The benchmarks `make bench` runs (`python -m benchmarks.bench`); the last line printed is `BENCH {json}`. See docs/benchmarks.md."""
