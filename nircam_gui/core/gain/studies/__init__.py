"""Gain studies of report JWST-STScI-004622 sections 5 and 6.3, one module each.

- :mod:`.rundata`: a gain run as the studies need it, from memory or from the files
  ``nircam-gain`` wrote; re-fits the saved PTC points without re-reading the ramps.
- :mod:`.consistency`: detector-averaged signal of group N minus group 0 per
  integration (report Figure 9).
- :mod:`.boxsize`: single-map uncertainty and sector means per box size (Table 2, Figure 7).
- :mod:`.signallimit`: mean maps at several fit limits and their ratios (Table 3).
- :mod:`.ipc_maps`: deconvolved vs analytic vs exact IPC corrections on gain maps (section 5.5);
- :mod:`.ipc_coupling`: the coupling measured from the flats themselves, and the kernel algebra.
- :mod:`.external`: comparison with an external per-pixel gain map (section 6.3).
"""
