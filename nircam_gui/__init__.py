"""nircam-gui: quick-look and calibration tool for JWST NIRCam detectors."""

__version__ = "0.1.0"
