"""Accuracy of the two PTC models against injected truth on full frames (not a speed benchmark).

Four simulated NRCB1 sets, full frame, 10 integrations of 20 groups (1,100 ADU per group,
so the last group holds ~22,000 ADU), same seed:

A. brighter-fatter effect at the simulator's default (NIRCam) strength;
B. no BFE;
C. as A, plus 1/f read noise (2 ADU rms) and alternating-column noise (0.5 ADU rms), drawn
   from their own random stream, so the photons are those of A;
D. as A, with the IPC coupling in the epoxy void 0.8 times that outside; analysed without
   IPC correction to read the couplings from the covariances.

For A and B, the linear and the covariance model at single-frame signal caps of 5,000,
10,000 and 15,000 ADU (re-fits of one run's statistics), sector gains against truth, the
linear model's rise against the 5,000 ADU cap (report 004622 Table 3), and the a-matrix
against truth. Prints a table and writes ``validate_ptc_models.json``.

Usage: nice -n 10 python benchmarks/validate_ptc_models.py --workdir DIR [--size 2048]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

CAPS = (5000.0, 10000.0, 15000.0)


def _sim(folder: Path, size: int, ngroups: int, **kw):
    from nircam_gui.core.simulate.flats import FlatSimConfig, simulate_flats

    marker = folder / "sim.json"
    if marker.exists():
        return json.loads(marker.read_text())
    t0 = time.perf_counter()
    r = simulate_flats(folder, FlatSimConfig(detector="NRCB1", size=size, nints=10, ngroups=ngroups, seed=18,
                                             threads=1, **kw))
    info = {"ramps": [str(p) for p in r.ramps], "refs": {k: str(v) for k, v in r.references.items()},
            "regions": str(r.regions), "truth": str(r.truth_json), "sim_s": time.perf_counter() - t0}
    marker.write_text(json.dumps(info))
    return info


def _run(info: dict, ipc: str = "deconvolve"):
    from nircam_gui.core.gain.run import GainOptions, run_gain

    r = info["refs"]
    opts = GainOptions(box=256, regions=info["regions"], ipc=ipc, ipc_kernel=r["IPC"], superbias=r["SUPERBIAS"],
                       linearity=r["LINEARITY"], saturation=r["SATURATION"], mask=r["MASK"], ptc_model="covariance")
    return run_gain(info["ramps"], opts)


class _Saved:
    """A run's statistics as saved by this script (so the fits can be redone without the ramps)."""

    def __init__(self, z) -> None:
        from types import SimpleNamespace

        from astropy.table import Table

        self.ptc = SimpleNamespace(mean=z["mean"], variance=z["variance"], cov=z["cov"], npix_diff=z["npix"])
        self.boxes = SimpleNamespace(table=Table(z["boxes"]))
        self.ipc_factor = float(z["ipc_factor"])
        self.timings = json.loads(str(z["timings"]))


def _sector_dict(table) -> dict:
    return {f"{int(r['amp'])}{'v' if r['region'] == 'epoxy' else ''}": float(r["gain"]) for r in table}


def _models_at_caps(res) -> dict:
    from nircam_gui.core.gain.covfit import solve_covariance_model
    from nircam_gui.core.gain.maps import check_first_pair, combine_pairs, sector_table
    from nircam_gui.core.gain.ptcfit import fit_ptc

    npix = np.asarray(res.boxes.table["npix"])
    out = {}
    for cap in CAPS:
        lin = fit_ptc(res.ptc.mean, res.ptc.variance, res.ptc.npix_diff, npix, 2 * cap).gain * res.ipc_factor
        sol = solve_covariance_model(res.ptc.mean, res.ptc.variance, res.ptc.cov, res.ptc.npix_diff, res.boxes.table,
                                     cap=cap, ipc_factor=res.ipc_factor)
        row = {}
        for name, g in (("linear", lin), ("covariance", sol.pair_gain)):
            maps = combine_pairs(g, npix, check_first_pair(g, "keep"))
            row[name] = {"sectors": _sector_dict(sector_table(res.boxes.table, maps)),
                         "box_gain": maps.mean_gain.tolist()}
        out[cap] = row
    return out


def _truth(info: dict) -> dict:
    t = json.loads(Path(info["truth"]).read_text())
    sectors = {f"{s['amp']}{'v' if s['region'] == 'epoxy' else ''}": s["gain"] for s in t["sector_gains"]}
    return {"sectors": sectors, "bfe": t["bfe"], "coupling": t["ipc_coupling"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--ngroups", type=int, default=20)
    args = ap.parse_args()
    work = Path(args.workdir)
    sets = {
        "A_bfe": dict(bfe=True),
        "B_nobfe": dict(bfe=False),
        "C_bfe_1f": dict(bfe=True, one_over_f_rms=2.0, acn_rms=0.5),
        "D_bfe_voidipc": dict(bfe=True, void_ipc_scale=0.8),
    }
    report: dict = {"size": args.size, "ngroups": args.ngroups, "nints": 10}
    for name, kw in sets.items():
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        info = _sim(folder, args.size, args.ngroups, **kw)
        t0 = time.perf_counter()
        stats = folder / "stats.npz"
        if stats.exists():
            res = _Saved(np.load(stats, allow_pickle=True))
        else:
            res = _run(info, ipc="none" if name.startswith("D") else "deconvolve")
            np.savez(stats, mean=res.ptc.mean, variance=res.ptc.variance, cov=res.ptc.cov, npix=res.ptc.npix_diff,
                     boxes=np.array(res.boxes.table.as_array()), ipc_factor=res.ipc_factor,
                     timings=np.array(json.dumps(res.timings)))
            res = _Saved(np.load(stats, allow_pickle=True))
        entry = {"truth": _truth(info), "run_s": time.perf_counter() - t0, "sim_s": info["sim_s"],
                 "timings": res.timings}
        if name.startswith("D"):
            from nircam_gui.core.gain.covfit import ipc_coupling

            reg = np.asarray(res.boxes.table["region"])
            npix = np.asarray(res.boxes.table["npix"])
            normal = np.flatnonzero(reg == "normal")
            entry["coupling"] = {"normal": ipc_coupling(res.ptc.mean, res.ptc.cov, normal, npix),
                                 "epoxy": ipc_coupling(res.ptc.mean, res.ptc.cov, np.flatnonzero(reg == "epoxy"), npix,
                                                       quadratic_boxes=normal)}
        else:
            entry["caps"] = _models_at_caps(res)
            from nircam_gui.core.gain.covfit import solve_covariance_model

            sol = solve_covariance_model(res.ptc.mean, res.ptc.variance, res.ptc.cov, res.ptc.npix_diff,
                                         res.boxes.table, ipc_factor=res.ipc_factor)
            entry["amp_fits"] = {f.label: {"gain": f.gain, "gain_err": f.gain_err, "a": f.a.tolist(),
                                           "a_err": f.a_err.tolist(), "chi2_dof": f.chi2_dof, "turnoff": f.turnoff}
                                 for f in sol.fits}
        report[name] = entry
        (work / "validate_ptc_models.json").write_text(json.dumps(report, indent=1, default=float))
        print(f"{name}: run {entry['run_s']:.0f} s", flush=True)
    _print(report)


# a-matrix terms printed: (name, index [dy, dx]); a10 is the neighbour along a row
_A_TERMS = (("a00", (0, 0)), ("a10", (0, 1)), ("a01", (1, 0)))


def _print(rep: dict) -> None:
    for name in ("A_bfe", "B_nobfe", "C_bfe_1f"):
        e = rep.get(name)
        if not e:
            continue
        truth = e["truth"]["sectors"]
        print(f"\n{name}: sector gain - truth (%)")
        for cap, row in e["caps"].items():
            for model in ("linear", "covariance"):
                s = row[model]["sectors"]
                print(f"  cap {float(cap):>7.0f} {model:>10}: " + "  ".join(
                    f"{k}:{100 * (s[k] / truth[k] - 1):+.3f}" for k in sorted(s)))
        if e["truth"]["bfe"]:
            ta = np.array(e["truth"]["bfe"]["a_matrix"])
            for label, f in e["amp_fits"].items():
                a, ae = np.array(f["a"]), np.array(f["a_err"])
                print(f"  {label}: " + ", ".join(
                    f"{k} {a[j, i]:.3e} ({100 * (a[j, i] / ta[j, i] - 1):+.1f} +- {100 * ae[j, i] / abs(ta[j, i]):.1f}%)"
                    for k, (j, i) in _A_TERMS))
    b = rep.get("B_nobfe")
    if b:
        print("\nB_nobfe: covariance - linear (%), the models' agreement without BFE")
        for cap, row in b["caps"].items():
            lin, cov = row["linear"]["sectors"], row["covariance"]["sectors"]
            print(f"  cap {float(cap):>7.0f}: " + "  ".join(f"{k}:{100 * (cov[k] / lin[k] - 1):+.3f}"
                                                       for k in sorted(lin)))
    a = rep.get("A_bfe")
    if a and b and a["truth"]["bfe"]:
        # same seed, same photons: the noise of the covariances is nearly the same in both sets,
        # so A - B is the a-matrix of the BFE alone, free of the set's statistical error
        ta = np.array(a["truth"]["bfe"]["a_matrix"])
        print("\nA_bfe - B_nobfe: a-matrix of the BFE alone (same photons) / truth - 1 (%)")
        for label, f in a["amp_fits"].items():
            if label not in b["amp_fits"]:
                continue
            d = np.array(f["a"]) - np.array(b["amp_fits"][label]["a"])
            print(f"  {label}: " + ", ".join(f"{k} {100 * (d[j, i] / ta[j, i] - 1):+.1f}" for k, (j, i) in _A_TERMS))
    c = rep.get("C_bfe_1f")
    if a and c:
        print("\nC_bfe_1f - A_bfe (%), gains moved by 1/f and alternating-column noise (same photons)")
        for cap in a["caps"]:
            for model in ("linear", "covariance"):
                sa, sc = a["caps"][cap][model]["sectors"], c["caps"][cap][model]["sectors"]
                print(f"  cap {float(cap):>7.0f} {model:>10}: " + "  ".join(
                    f"{k}:{100 * (sc[k] / sa[k] - 1):+.3f}" for k in sorted(sa)))
    e = rep.get("D_bfe_voidipc")
    if e:
        for r in ("normal", "epoxy"):
            c, t = e["coupling"][r], e["truth"]["coupling"][r]
            print(f"  IPC {r}: x {c['x']:.5f} +- {c['x_err']:.5f} (truth {t['x']:.5f}, "
                  f"{100 * (c['x'] / t['x'] - 1):+.1f} +- {100 * c['x_err'] / t['x']:.1f}%), "
                  f"y {c['y']:.5f} +- {c['y_err']:.5f} (truth {t['y']:.5f}, "
                  f"{100 * (c['y'] / t['y'] - 1):+.1f} +- {100 * c['y_err'] / t['y']:.1f}%)")


if __name__ == "__main__":
    main()
