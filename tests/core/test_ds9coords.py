"""Tables give DS9's 1-based positions beside the 0-based ones; region files agree."""

import numpy as np
from regions import PixCoord, PointPixelRegion, Regions

from nircam_gui.core.skyflat.deadpix import find_clusters, find_dead_pixels


def test_dead_pixel_and_cluster_tables_have_ds9_positions(tmp_path):
    grey = np.ones((64, 64), np.float32)
    grey[20:26, 30:34] = 0.5  # one concentration of 24 dead pixels
    grey[50, 10] = 0.3
    dead = find_dead_pixels(grey, threshold=0.8)
    t = dead.table
    np.testing.assert_array_equal(t["x_ds9"], t["x"] + 1)
    np.testing.assert_array_equal(t["y_ds9"], t["y"] + 1)
    assert "1-based" in t["x_ds9"].description
    row = t[(t["x"] == 10) & (t["y"] == 50)][0]
    assert (row["x_ds9"], row["y_ds9"]) == (11, 51)
    clusters, _ = find_clusters(dead.mask, grey, link=1, min_npix=20)
    c = clusters[0]
    assert (c["xmin_ds9"], c["xmax_ds9"], c["ymin_ds9"], c["ymax_ds9"]) == (31, 34, 21, 26)
    assert c["x_ds9"] == c["x"] + 1 and c["y_ds9"] == c["y"] + 1
    # a DS9 region file written from the table's 1-based position is read by the regions
    # package (0-based pixel coordinates) on the pixel the 0-based columns name
    reg = tmp_path / "dead.reg"
    reg.write_text(f"# Region file format: DS9\nimage\npoint({row['x_ds9']},{row['y_ds9']})\n")
    point = Regions.read(str(reg), format="ds9")[0]
    assert isinstance(point, PointPixelRegion)
    assert point.center.xy == (row["x"], row["y"])
    assert isinstance(point.center, PixCoord)
