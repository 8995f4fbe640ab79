"""Delta sky flats, new FLAT reference files, dead pixels and sky backgrounds.

The method of report JWST-STScI-008304 (NIRCam flight flats), section 3, in small
modules named for what they compute:

- :mod:`.sourcemask` - photutils source mask plus DQ DO_NOT_USE;
- :mod:`.normalise` - sigma-clipped median of the unmasked pixels (also the background);
- :mod:`.combine` - sigma-clipped median through a stack, coverage and error maps;
- :mod:`.largescale` - 3rd-order 2-D polynomial or 8x8 median on a 32x32 low-res grid;
- :mod:`.deadpix` - new dead pixels and their concentrations;
- :mod:`.background` - background tables and the ratio to predictions;
- :mod:`.products` / :mod:`.figures` - FITS, ECSV and PNG outputs with provenance;
- :mod:`.run` - the whole analysis over a set of ``_cal`` files (what ``nircam-skyflat`` runs).
"""
