"""Congestion and fee forecasting: the daily gas-price forecaster, its baselines and backtest, and the
block-level EIP-1559 base-fee forecast with a calibrated fee recommendation (heavy imports stay in submodules)."""
