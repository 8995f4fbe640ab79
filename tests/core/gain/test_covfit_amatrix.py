"""The a-matrix of the full covariance model against the simulator's brighter-fatter kernel.

A single set of flats recovers the a-matrix only to its statistical error (full frame, 10
integrations of 20 groups at NIRCam strength: ~10% on a_10 pooled over the detector, ~20% per
amplifier), so an error of convention or discretisation of that size hides in one set. Here every
set is simulated twice from the same random draws, with and without the BFE: the noise of the
covariances is then almost the same in both, and the difference of the two fitted a-matrices is
the BFE's alone, to ~1%. Ramps are built in memory from the simulator's physics (shot noise
accumulated group by group through :func:`~nircam_gui.core.simulate.detector_physics.bfe_step`,
kTC, the physical IPC kernel, read noise), deconvolved with the IPC correction kernel as the
calibration does, and measured with the gain engine's clipper and covariances.
"""

import numpy as np
import pytest

from nircam_gui.core.gain.clipstats import BoxClipper
from nircam_gui.core.gain.covariances import BoxCovariances
from nircam_gui.core.gain.covfit import fit_amp_covariances
from nircam_gui.core.ipc import REPORT_B1_CORRECTION_KERNEL, apply_kernel, invert_kernel
from nircam_gui.core.simulate.detector_physics import bfe_area, bfe_kernel, bfe_step

GAIN = 2.3
KC = np.asarray(REPORT_B1_CORRECTION_KERNEL, np.float32)
K = invert_kernel(KC, size=5).astype(np.float32)
A00 = -2.6e-6  # ten times NIRCam's: a_10 then reads to ~5% from one small set


def _fit(seed, a00, n=384, ngroups=10, npairs=2, box=128, area_at_start=False):
    """Fit of the model to flats of ``seed``; ``a00`` None: no BFE (same random draws).

    ``area_at_start``: the area of each group taken from the charge before it (the wrong
    discretisation of continuous collection, for the test's own sensitivity)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:n, :n]
    labels = ((y // box) * (n // box) + x // box + 1).astype(np.int32)
    clipper = BoxClipper(labels, nsigma=3.0)
    covs = BoxCovariances(clipper, 3)
    nb = clipper.nbox
    rate = (1100.0 * GAIN * rng.lognormal(0.0, 0.02, (n, n))).astype(np.float32)
    sq = np.sqrt(rate)
    kernel = None if a00 is None else bfe_kernel(a00)
    mean = np.zeros((npairs, ngroups, nb))
    cov = np.zeros((npairs, ngroups, nb, 4, 4))

    def integration():
        q = np.zeros((n, n), np.float32)
        z = np.empty((n, n), np.float32)
        node = rng.normal(0, 15.0, (n, n)).astype(np.float32)
        frames = []
        for _ in range(ngroups):
            rng.standard_normal(out=z, dtype=np.float32)
            if kernel is None:
                q += rate + sq * z
            elif area_at_start:
                area = np.maximum(bfe_area(q, kernel), 0.0)
                q += rate * area + np.sqrt(area) * sq * z
            else:
                bfe_step(q, rate, sq, z, kernel)
            sig = apply_kernel(q / GAIN + node, K) + 5.0 * rng.standard_normal((n, n), dtype=np.float32)
            frames.append(apply_kernel(sig, KC))
        return frames

    for p in range(npairs):
        a, b = integration(), integration()
        for g in range(ngroups):
            ss, sd = clipper.clip_pair(a[g], b[g])
            mean[p, g] = ss.mean
            cov[p, g] = covs.measure(a[g], b[g], None, ss, sd)[0]
    npix = clipper.box_npix
    return fit_amp_covariances("all", np.arange(nb), mean, cov, np.ones(mean.shape), npix, np.full(nb, ngroups - 1))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [4, 7])
def test_a_matrix_of_the_bfe_alone_matches_the_kernel(seed):
    """a_00, a_10 (along x, ``a[0, 1]``) and a_01 (``a[1, 0]``) of the BFE: within 4% (seen: 2%);
    a factor 2 or a sign in the convention, or an area taken once per group at its start
    ((n-1)/n = 10% low at 10 groups), fail. The single set is off by its noise only."""
    truth = bfe_kernel(A00)[2:, 2:]
    on, off = _fit(seed, A00), _fit(seed, None)
    d = on.a - off.a
    got = {k: d[j, i] / truth[j, i] for k, (j, i) in {"a00": (0, 0), "a10": (0, 1), "a01": (1, 0)}.items()}
    print("BFE - no BFE, / truth:", {k: round(v, 4) for k, v in got.items()})
    for k, v in got.items():
        assert v == pytest.approx(1, abs=0.04), got
    for j, i in ((0, 0), (0, 1), (1, 0)):
        assert abs(on.a[j, i] - truth[j, i]) < 3.5 * on.a_err[j, i]
        # without BFE the fit finds none, within its error
        assert abs(off.a[j, i]) < 3.5 * off.a_err[j, i]


@pytest.mark.slow
def test_the_paired_a_matrix_sees_a_discretisation_error():
    """The same comparison on a simulator that sets each group's area from the charge before it
    reads the neighbours ~(n-1)/n low: the test above can fail for it."""
    truth = bfe_kernel(A00)[2:, 2:]
    d = _fit(4, A00, area_at_start=True).a - _fit(4, None).a
    assert d[0, 1] / truth[0, 1] < 0.95 and d[1, 0] / truth[1, 0] < 0.96
