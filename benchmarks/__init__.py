"""opsflow's benchmark harness: each figure a median ratio against its baseline (issue 5).

Run ``python -m benchmarks`` (or ``make bench``); see benchmarks/README.md.
"""
