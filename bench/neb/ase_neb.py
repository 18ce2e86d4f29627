#!/usr/bin/python3
"""ASE 3.22 reference for Interphase's CI-NEB driver (bench/neb and tests/engine/test_neb.cpp).

Builds an EMT system, relaxes its two endpoints with ASE (as ASE's NEB tutorial does), writes
the linear initial path, then runs ASE's NEB(method='improvedtangent', climb=True) with FIRE
and BFGS on copies of that path. Prints one JSON document on stdout:

  {"system": ..., "fmax": ..., "path": [structure, ...],          # Interphase structure JSON
   "runs": {"fire": {"energies", "forward_barrier", "reverse_barrier", "saddle_index",
                     "saddle_positions", "force_calls", "steps", "converged", "seconds"}, ...}}

force_calls counts EMT evaluations of the moving images only (the endpoints were computed
during their relaxation), which is what Interphase's driver reports minus its two endpoint calls.

Systems:
  au_al100     Au adatom hop between hollow sites on Al(100), 2x2x3, two bottom layers fixed,
               3 moving images: ASE's tutorial https://wiki.fysik.dtu.dk/ase/tutorials/neb/diffusion.html
  pt_pt100     Pt adatom hop between hollow sites on Pt(100), 3x3x3, two bottom layers fixed, 5 images
  cu_vacancy   nearest-neighbour vacancy hop in fcc Cu, 2x2x2 conventional cell (31 atoms), 5 images
"""
import argparse
import json
import sys
import time

import numpy as np
from ase.build import add_adsorbate, bulk, fcc100
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms
from ase.neb import NEB
from ase.optimize import BFGS, FIRE, QuasiNewton

CALLS = {"n": 0}


class CountingEMT(EMT):
    """EMT that counts its real evaluations (cached results are not evaluations)."""

    def calculate(self, *args, **kwargs):
        CALLS["n"] += 1
        super().calculate(*args, **kwargs)


def relax(atoms, fmax):
    atoms.calc = EMT()
    QuasiNewton(atoms, logfile=None).run(fmax=fmax)
    return atoms


def adatom_hop(metal, adatom, size, height, nimages, fmax):
    slab = fcc100(metal, size=size)
    add_adsorbate(slab, adatom, height, "hollow")
    slab.center(axis=2, vacuum=4.0)
    slab.set_constraint(FixAtoms(mask=[atom.tag > 1 for atom in slab]))
    initial = relax(slab.copy(), fmax)
    final = initial.copy()
    final.set_constraint(FixAtoms(mask=[atom.tag > 1 for atom in final]))
    final[-1].x += final.get_cell()[0, 0] / size[0]
    final = relax(final, fmax)
    return initial, final, nimages


def vacancy_hop(fmax):
    cu = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
    vacancy = cu.positions[0].copy()
    del cu[0]
    # The nearest neighbour of the vacancy that hops into it.
    d = np.linalg.norm(cu.positions - vacancy, axis=1)
    j = int(np.argmin(d))
    initial = relax(cu.copy(), fmax)
    final = cu.copy()
    final.positions[j] = vacancy
    final = relax(final, fmax)
    return initial, final, 5


def build(system, fmax_endpoints=0.01):
    if system == "au_al100":
        return adatom_hop("Al", "Au", (2, 2, 3), 1.7, 3, fmax_endpoints)
    if system == "pt_pt100":
        return adatom_hop("Pt", "Pt", (3, 3, 3), 1.6, 5, fmax_endpoints)
    if system == "cu_vacancy":
        return vacancy_hop(fmax_endpoints)
    raise SystemExit(f"unknown system {system!r}")


def to_interphase(atoms):
    fixed = set()
    for c in atoms.constraints:
        if isinstance(c, FixAtoms):
            fixed.update(int(i) for i in c.index)
    out = []
    for i, (s, f) in enumerate(zip(atoms.get_chemical_symbols(), atoms.get_scaled_positions(wrap=False))):
        a = {"species": s, "frac": [float(x) for x in f]}
        if i in fixed:
            a["fixed"] = True
        out.append(a)
    return {"title": "", "lattice": atoms.get_cell().tolist(), "pbc": [bool(p) for p in atoms.pbc],
            "atoms": out, "info": {}}


def linear_path(initial, final, nimages):
    images = [initial]
    for _ in range(nimages):
        image = initial.copy()
        image.set_constraint([c.copy() for c in initial.constraints])
        images.append(image)
    images.append(final)
    NEB(images).interpolate()  # linear, as ASE's tutorial
    return images


def run_neb(path, energies, optimizer, fmax, k):
    images = []
    for i, src in enumerate(path):
        image = src.copy()
        image.set_constraint([c.copy() for c in src.constraints])
        if i in (0, len(path) - 1):
            # Endpoints: their energies are known from the relaxation (as in ASE's tutorial,
            # which reads them from trajectories); not counted as NEB force calls.
            from ase.calculators.singlepoint import SinglePointCalculator
            image.calc = SinglePointCalculator(image, energy=energies[i], forces=np.zeros((len(image), 3)))
        else:
            image.calc = CountingEMT()
        images.append(image)
    neb = NEB(images, k=k, climb=True, method="improvedtangent")
    opt = {"fire": FIRE, "bfgs": BFGS}[optimizer](neb, logfile=None)
    CALLS["n"] = 0
    t0 = time.perf_counter()
    converged = bool(opt.run(fmax=fmax, steps=2000))
    seconds = time.perf_counter() - t0
    e = [float(img.get_potential_energy()) for img in images]
    imax = 1 + int(np.argsort(e[1:-1])[-1])
    return {"energies": e, "forward_barrier": max(e) - e[0], "reverse_barrier": max(e) - e[-1],
            "saddle_index": imax, "saddle_positions": images[imax].positions.tolist(),
            "force_calls": CALLS["n"], "steps": int(opt.nsteps), "converged": converged,
            "seconds": seconds}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("system", choices=["au_al100", "pt_pt100", "cu_vacancy"])
    p.add_argument("--fmax", type=float, default=0.05)
    p.add_argument("--k", type=float, default=0.1)
    p.add_argument("--optimizers", default="fire,bfgs")
    a = p.parse_args()
    initial, final, nimages = build(a.system)
    path = linear_path(initial, final, nimages)
    energies = [float(initial.get_potential_energy())] + [0.0] * nimages + [float(final.get_potential_energy())]
    runs = {o: run_neb(path, energies, o, a.fmax, a.k) for o in a.optimizers.split(",") if o}
    json.dump({"system": a.system, "fmax": a.fmax, "k": a.k, "path": [to_interphase(x) for x in path],
               "runs": runs}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
