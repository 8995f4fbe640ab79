"""Conversion gain with the Photon Transfer Curve method (report JWST-STScI-004622).

Files to products, one module per step:

- :mod:`.run` - the options schema (:class:`~.run.GainOptions`) and :func:`~.run.run_gain`:
  pairs (:mod:`.pairs`), calibration (:mod:`nircam_gui.core.calibrate`), boxes
  (:mod:`.boxes`), clipped box statistics (:mod:`.clipstats`), PTC fits (:mod:`.ptcfit`),
  maps, uncertainties and sector tables (:mod:`.maps`), returning a :class:`~.run.GainResult`;
- :mod:`.products` - :func:`~.products.write_gain_products`, the one writer (CRDS GAIN,
  tables, PTC points, :mod:`.figures`, provenance) of the command line and the GUI;
- :mod:`.studies` - the report's studies (sections 5 and 6.3) over saved or new runs.
"""
