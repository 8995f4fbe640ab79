import numpy as np
import pytest
from astropy.table import Table

from nircam_gui.core.skyflat.background import BackgroundRecord, backgrounds_table, summarise_backgrounds
from nircam_gui.core.skyflat.deadpix import find_clusters, find_dead_pixels


def test_dead_pixel_rules():
    g = np.ones((64, 64), np.float32)
    g[10, 10] = 0.5  # dead
    g[11, 30] = 0.0  # exactly 0: another bad-pixel type
    g[12, 40] = 0.79  # just below threshold
    g[13, 50] = 0.81  # just above
    g[20, 20] = 0.2  # already dead on the ground
    g[30, 30] = 0.1  # seen by one image only
    g[2, 2] = 0.1  # reference border
    g[40, 40] = np.nan
    ground = np.zeros(g.shape, bool)
    ground[20, 20] = True
    cov = np.full(g.shape, 10)
    cov[30, 30] = 1
    d = find_dead_pixels(g, ground_dead=ground, coverage=cov)
    assert sorted(zip(d.table["x"], d.table["y"])) == [(10, 10), (40, 12)]
    assert d.table["value"][list(d.table["x"]).index(40)] == pytest.approx(0.79)
    assert find_dead_pixels(g, threshold=0.85, ground_dead=ground, coverage=cov).mask.sum() == 3


def test_clusters():
    g = np.ones((200, 200), np.float32)
    yy, xx = np.mgrid[:200, :200]
    blob = (xx - 120) ** 2 / 64 + (yy - 60) ** 2 / 25 <= 1  # ~125 pixels
    rng = np.random.default_rng(0)
    # a concentration where ~80 % of the pixels are dead: gaps must not split it
    dead = blob & (rng.random(blob.shape) < 0.8)
    g[dead] = 0.3
    g[150, 30] = g[170, 170] = 0.1  # isolated
    d = find_dead_pixels(g)
    table, labels = find_clusters(d.mask, g, min_npix=20)
    assert len(table) == 1
    row = table[0]
    assert row["npix"] == dead.sum()
    assert row["x"] == pytest.approx(120, abs=1) and row["y"] == pytest.approx(60, abs=1)
    assert row["mean_value"] == pytest.approx(0.3)
    assert (labels == 1).sum() == dead.sum()


def test_background_tables_and_predictions():
    recs = [BackgroundRecord(file=f"f{i}", detector="NRCA4", filter=f, pupil="CLEAR", background=b, std=0.01,
                             n_pixels=100, masked_fraction=0.1) for i, (f, b) in
            enumerate([("F150W", 0.24), ("F150W", 0.26), ("F200W", 0.22)])]
    t = backgrounds_table(recs)
    assert t.colnames[:4] == ["file", "detector", "filter", "background"]
    assert str(t["background"].unit) == "MJy / sr"
    pred = Table({"filter": ["F150W", "F200W"], "background": [0.2, 0.25]})
    s = summarise_backgrounds(t, pred)
    row = s[s["filter"] == "F150W"][0]
    assert row["n_images"] == 2 and row["mean"] == pytest.approx(0.25)
    assert row["ratio"] == pytest.approx(1.25)
    assert np.isnan(summarise_backgrounds(t)["ratio"]).all()
