"""IPC coupling read from the covariances at zero signal, on ramps whose answer is known analytically.

Ramps are built in memory from the simulator's own physics (white shot noise accumulated group by
group, optionally with the brighter-fatter area of :mod:`nircam_gui.core.simulate.detector_physics`,
kTC on the node, the physical IPC kernel applied as the simulator applies it, a weaker kernel in an
epoxy void, white read noise) and measured with the gain engine's clipper and covariances. The
expected lag-1 ratio is that of the kernel: ``sum K(x) K(x + l) / sum K(x)^2``. Each test isolates
one way the covariance route could be biased: the brighter-fatter quadratic, the void (the clip
correction of the lag covariances is tested on a strongly correlated field in ``test_covariances.py``).
"""

import numpy as np
import pytest

from nircam_gui.core.gain.clipstats import BoxClipper
from nircam_gui.core.gain.covariances import BoxCovariances
from nircam_gui.core.gain.covfit import ipc_coupling
from nircam_gui.core.gain.studies.ipc_coupling import kernel_correlation
from nircam_gui.core.ipc import REPORT_B1_CORRECTION_KERNEL, apply_kernel, invert_kernel
from nircam_gui.core.simulate.detector_physics import bfe_kernel, bfe_step

KERNEL = invert_kernel(REPORT_B1_CORRECTION_KERNEL, size=5).astype(np.float32)
GAIN = 2.3
RATE = 1100.0 * GAIN  # e- per group: 1,100 ADU per group as the simulator's default


def _void_kernel(scale):
    delta = np.zeros_like(KERNEL)
    delta[2, 2] = 1
    return (delta + (KERNEL - delta) * scale).astype(np.float32)


def _layout(n, box, void):
    """Square boxes, and a round epoxy void of its own label; reference-pixel border left out."""
    y, x = np.mgrid[:n, :n]
    lab = (y // box) * (n // box) + x // box + 1
    inside = np.zeros((n, n), bool)
    if void:
        inside = (x - n / 2) ** 2 + (y - n / 2) ** 2 < (n / 4) ** 2
        lab = np.where(inside, lab.max() + 1, lab)
    border = np.zeros((n, n), bool)
    border[4:-4, 4:-4] = True
    lab = np.where(border, lab, 0)
    inside &= border
    _, lab = np.unique(lab, return_inverse=True)
    return lab.reshape(n, n).astype(np.int32), inside


def _ramps(seed, n=384, ngroups=14, npairs=4, nsigmas=(3.0,), bfe_a00=None, void=False, void_scale=0.8,
           read=5.0, ktc=15.0):
    """Single-frame means and covariances (npairs, ngroups, nbox[, 3, 3]) per clip limit, box pixels and
    the void boxes. ``bfe_a00`` None: no BFE; the random draws do not depend on it."""
    rng = np.random.default_rng(seed)
    labels, inside = _layout(n, 96, void)
    clippers = [BoxClipper(labels, nsigma=s) for s in nsigmas]
    covs = [BoxCovariances(c, 1) for c in clippers]
    nb = clippers[0].nbox
    mean = np.zeros((len(nsigmas), npairs, ngroups, nb))
    cov = np.zeros((len(nsigmas), npairs, ngroups, nb, 2, 2))
    bk = None if bfe_a00 is None else bfe_kernel(bfe_a00)
    kv = _void_kernel(void_scale)
    rate = np.full((n, n), RATE, np.float32)
    sq = np.sqrt(rate)

    def integration():
        q = np.zeros((n, n), np.float32)
        z = np.empty((n, n), np.float32)
        node = rng.normal(0, ktc, (n, n)).astype(np.float32)
        frames = []
        for _ in range(ngroups):
            rng.standard_normal(out=z, dtype=np.float32)
            if bk is None:
                q += rate + sq * z
            else:
                bfe_step(q, rate, sq, z, bk)
            lin = q / GAIN + node
            sig = apply_kernel(lin, KERNEL)
            if void:
                sig[inside] = apply_kernel(lin, kv)[inside]
            sig += read * rng.standard_normal((n, n), dtype=np.float32)
            frames.append(sig)
        return frames

    for p in range(npairs):
        a, b = integration(), integration()
        for g in range(ngroups):
            for i, (cl, cv) in enumerate(zip(clippers, covs)):
                ss, sd = cl.clip_pair(a[g], b[g])
                mean[i, p, g] = ss.mean
                cov[i, p, g] = cv.measure(a[g], b[g], None, ss, sd)[0]
    void_box = np.array([inside[labels == k + 1].all() for k in range(nb)])
    return mean, cov, clippers[0].box_npix, void_box


@pytest.mark.slow
def test_zero_signal_coupling_pure_gaussian_and_with_bfe():
    """No clip effect, no BFE: the coupling is the kernel's within its error; the same draws with a
    strong BFE (ten times NIRCam's) move it by far less than that error, so the quadratic does not
    leak into the zero-signal slope."""
    expected = kernel_correlation(KERNEL)
    plain = _ramps(2, nsigmas=(3.0,))
    bfe = _ramps(2, nsigmas=(3.0,), bfe_a00=-2.6e-6)
    got = {}
    for name, (mean, cov, npix, _) in (("plain", plain), ("bfe", bfe)):
        c = ipc_coupling(mean[0], cov[0], np.arange(len(npix)), npix)
        assert c["npairs"] == 4 and c["nsteps"] == 4 * 13
        got[name] = c
        for axis, e in zip("xy", expected):
            pull = (c[f"ratio_{axis}"] - e) / c[f"ratio_{axis}_err"]
            print(name, axis, c[f"ratio_{axis}"] / e - 1, c[f"ratio_{axis}_err"] / e, pull)
            assert abs(pull) < 3.5
            # 1.4e5 pixels, 4 pairs of 14 groups: ~20% (a full frame of 10 integrations: ~3%)
            assert c[f"ratio_{axis}_err"] / e < 0.3
    for axis in "xy":
        shift = got["bfe"][f"ratio_{axis}"] - got["plain"][f"ratio_{axis}"]
        assert abs(shift) < 0.5 * got["plain"][f"ratio_{axis}_err"], axis


@pytest.mark.slow
def test_zero_signal_coupling_inside_a_void_with_lower_ipc():
    """A void with 0.8 times the coupling: its pixel pairs see the void kernel only (pairs straddling
    its edge are not counted), so its coupling is that of the void kernel, outside the normal one."""
    mean, cov, npix, void_box = _ramps(3, n=448, nsigmas=(3.0,), bfe_a00=-2.6e-7, void=True)
    inside = np.flatnonzero(void_box)
    outside = np.flatnonzero(~void_box)
    for boxes, k, quad in ((outside, KERNEL, None), (inside, _void_kernel(0.8), outside)):
        c = ipc_coupling(mean[0], cov[0], boxes, npix, quadratic_boxes=quad)
        for axis, e in zip("xy", kernel_correlation(k)):
            pull = (c[f"ratio_{axis}"] - e) / c[f"ratio_{axis}_err"]
            print(len(boxes), axis, c[f"ratio_{axis}"] / e - 1, c[f"ratio_{axis}_err"] / e, pull)
            assert abs(pull) < 3.5
