"""Scenario modules of scripts/bench: each module (except common) exposes SCENARIOS = [(name, function(bench))]."""
