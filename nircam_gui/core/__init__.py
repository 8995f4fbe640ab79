"""Computation for nircam-gui. Never imports Qt: everything here runs headless."""
