"""Conversion gain with the Photon Transfer Curve method (report JWST-STScI-004622)."""
