"""Delta sky flats, new FLAT reference files, dead pixels and sky backgrounds.

The method of report JWST-STScI-008304 (NIRCam flight flats), section 3. Files to
products, one module per step:

- :mod:`.options` - the options schema (defaults from the report);
- :mod:`.inputs` - check the ``_cal`` images, match ground FLAT/MASK files;
- :mod:`.stack` - per image: source mask (:mod:`.sourcemask`), normalisation and sky
  background (:mod:`.normalise`), into one stack per detector;
- :mod:`.analysis` - per detector: additive scattered light kept out (:mod:`.additive`),
  delta flats (:mod:`.combine`), large-scale fit (:mod:`.largescale`), filter dependence
  (:mod:`.filterdiff`), new flats, dead pixels (:mod:`.deadpix`);
- :mod:`.run` - :func:`~.run.run_skyflat`, the steps above over all detectors, returning a
  :class:`~.result.SkyflatResult` (arrays and tables, :mod:`.background` tables);
- :mod:`.products` - :func:`~.products.write_skyflat_products`, the one writer (FITS, CRDS
  FLAT and MASK, ECSV, :mod:`.figures`, provenance) of the command line and the GUI.
"""
