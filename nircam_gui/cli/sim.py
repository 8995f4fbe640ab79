"""``nircam-sim``: write simulated NIRCam data with injected truth, in the real JWST formats.

Subcommands
-----------
flats   flat-field ramp sets for the gain (PTC) analysis, with reference files and truth
images  dithered _cal.fits images for sky flats, with ground flats, masks and truth
starfield  a dithered star field calibrated with a flat of known error, to validate flats
demo    the built-in demo data set that ``nircam-gui --demo`` opens
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.detector import DETECTORS
from ..core.fileio import ensure_output_dir
from ._common import EXIT_USAGE, run_with_progress


def _add_flats(sub) -> None:
    from ..core.simulate.flats import FlatSimConfig

    d = FlatSimConfig.__dataclass_fields__
    p = sub.add_parser("flats", help="flat-field ramps (_uncal.fits) + reference files + truth",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--detector", nargs="+", default=["NRCB1"],
                   help=f"one or more of {', '.join(DETECTORS)} (or B1, 486, ...); with several, each detector's "
                        "set (ramps, reference/, truth/) goes to OUTDIR/<DETECTOR>/ with its own seed")
    p.add_argument("--nints", type=int, default=d["nints"].default, help="integrations")
    p.add_argument("--ngroups", type=int, default=d["ngroups"].default, help="groups per integration")
    p.add_argument("--size", type=int, default=d["size"].default,
                   help="frame size in pixels (2048 = full frame; smaller keeps the full-frame layout)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layout", choices=("uncal", "uncal_multi", "ground"), default="uncal",
                   help="one _uncal file per integration, one for all, or ground-test cubes")
    p.add_argument("--adu-per-group", type=float, default=d["adu_per_group"].default,
                   help="mean linear signal per group (ADU)")
    p.add_argument("--first-pair-anomaly", type=float, default=0.0,
                   help="rms per-pixel flux change of integration 1 (0.002 lowers pair-1 gain ~3%%)")
    p.add_argument("--first-int-flux-step", type=float, default=0.0, help="fractional flux step of integration 1")
    p.add_argument("--no-epoxy-void", action="store_true", help="no epoxy void even where the detector has one")
    p.add_argument("--bfe", nargs="?", type=float, const=d["bfe_a00"].default, default=None, metavar="A00",
                   help="brighter-fatter effect with centre coefficient A00 (1/e-, negative; default "
                        f"{d['bfe_a00'].default:g}, which reproduces report Table 3's rise)")
    p.add_argument("--one-over-f", type=float, default=0.0, metavar="RMS",
                   help="1/f read noise per amplifier along the read order (ADU rms, single frame)")
    p.add_argument("--acn", type=float, default=0.0, metavar="RMS", help="alternating-column noise (ADU rms)")
    p.add_argument("--void-ipc-scale", type=float, default=d["void_ipc_scale"].default,
                   help="IPC coupling inside the epoxy void relative to outside")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("-q", "--quiet", action="store_true")


def _flat_config(args, detector: str, seed: int):
    from ..core.simulate.flats import FlatSimConfig

    return FlatSimConfig(detector=detector, nints=args.nints, ngroups=args.ngroups, size=args.size,
                         seed=seed, layout=args.layout, adu_per_group=args.adu_per_group,
                         first_pair_anomaly=args.first_pair_anomaly,
                         first_int_flux_step=args.first_int_flux_step,
                         epoxy_void=False if args.no_epoxy_void else None, threads=args.threads,
                         bfe=args.bfe is not None,
                         **({} if args.bfe is None else {"bfe_a00": args.bfe}),
                         one_over_f_rms=args.one_over_f, acn_rms=args.acn, void_ipc_scale=args.void_ipc_scale)


def _run_flats(args) -> int:
    from ..core.detector import get_detector
    from ..core.simulate.flats import simulate_flats

    try:
        names = list(dict.fromkeys(get_detector(d).name for d in args.detector))
        # one seed per detector, so their noise is independent; the first keeps --seed
        cfgs = [_flat_config(args, name, args.seed + i) for i, name in enumerate(names)]
    except (KeyError, ValueError) as exc:
        print(f"nircam-sim flats: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    several = len(cfgs) > 1
    outdir = Path(args.outdir)

    def work(progress, cancel):
        results = []
        for i, cfg in enumerate(cfgs):
            where = outdir / cfg.detector if several else outdir
            step = (lambda f, m, i=i, d=cfg.detector: progress((i + f) / len(cfgs), f"{d}: {m}")) if several \
                else progress
            results.append(simulate_flats(ensure_output_dir(where), cfg, step, cancel))
        return results

    code, results = run_with_progress(work, "simulating flats", args.quiet)
    for cfg, result in zip(cfgs, results or []):
        where = outdir / cfg.detector if several else outdir
        print(f"wrote {len(result.ramps)} ramp file(s), {len(result.references)} reference files"
              f"{', the epoxy-void regions' if result.regions else ''} and the truth to {where}")
    return code


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="the demo data set (flats and images)")
    p.add_argument("-o", "--outdir", required=True)
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("-q", "--quiet", action="store_true")


def _run_demo(args) -> int:
    from ..core.simulate.demo import make_demo_dataset

    code, result = run_with_progress(lambda p, c: make_demo_dataset(ensure_output_dir(args.outdir), p, c,
                                                                    size=args.size),
                                     "making demo data", args.quiet)
    if result is not None:
        print(f"demo data set ready in {Path(result).resolve()}")
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nircam-sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_flats(sub)
    from . import sim_images

    sim_images.add_parser(sub)
    from . import sim_starfield

    sim_starfield.add_parser(sub)
    _add_demo(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "flats":
        return _run_flats(args)
    if args.command == "demo":
        return _run_demo(args)
    if args.command == "starfield":
        from . import sim_starfield

        return sim_starfield.run(args)
    from . import sim_images

    return sim_images.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
