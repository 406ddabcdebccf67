"""Chain monitoring: per-block and per-account signals from replayed or live activity, detectors for flooding,
fee manipulation and sybil bursts, CUSUM and rolling z-score baselines, and event-level evaluation (pure maths)."""
