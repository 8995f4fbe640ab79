"""Simulators of NIRCam data with injected truth: flat-field ramps and calibrated images."""
