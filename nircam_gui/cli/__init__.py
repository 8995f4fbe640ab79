"""Headless command-line twins of every GUI action (nircam-sim, nircam-gain, ...)."""
