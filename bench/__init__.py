"""Throughput benchmarks of cipulse ingestion: ``python -m bench.run`` (``make bench``)."""
