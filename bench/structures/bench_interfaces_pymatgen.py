#!/usr/bin/env python3
"""pymatgen reference for bench_interfaces: ZSLGenerator + CoherentInterfaceBuilder (pymatgen
2022.11, Debian python3-pymatgen) on the interface pairs given in a JSON file.

Usage: bench_interfaces_pymatgen.py CASES.json   (written by bench_interfaces; prints JSON)

Each case holds the two bulk crystals exactly as Interphase builds them (lattice rows, species,
fractional coordinates), the Miller indices and the ZSL settings. For each case this builds the
matches (CoherentInterfaceBuilder runs SlabGenerator and ZSLGenerator) and then every interface
of every termination pair (get_interfaces with one d_hkl of film and substrate, the 2 Å gap),
timing both steps. A reference for benchmarks and tests only, never a product dependency.
"""
import json
import sys
import time

from pymatgen.analysis.interfaces.coherent_interfaces import CoherentInterfaceBuilder
from pymatgen.analysis.interfaces.zsl import ZSLGenerator
from pymatgen.core import Lattice, Structure


def structure(side):
    return Structure(Lattice(side["lattice"]), side["species"], side["frac"])


def main():
    cases = json.load(open(sys.argv[1]))
    out = []
    for case in cases:
        s = case["settings"]
        substrate, film = structure(case["a"]), structure(case["b"])
        t0 = time.perf_counter()
        zsl = ZSLGenerator(max_area_ratio_tol=s["max_area_ratio_tol"], max_area=s["max_area"],
                           max_length_tol=s["max_length_tol"], max_angle_tol=s["max_angle_tol"],
                           bidirectional=s["bidirectional"])
        builder = CoherentInterfaceBuilder(substrate_structure=substrate, film_structure=film,
                                           film_miller=tuple(case["b"]["miller"]),
                                           substrate_miller=tuple(case["a"]["miller"]), zslgen=zsl)
        t1 = time.perf_counter()
        interfaces = atoms = 0
        for termination in builder.terminations:
            for iface in builder.get_interfaces(termination, gap=case["gap"], vacuum_over_film=case["vacuum"],
                                                film_thickness=1, substrate_thickness=1, in_layers=True):
                interfaces += 1
                atoms += len(iface)
        t2 = time.perf_counter()
        out.append({"name": case["name"], "matches": len(builder.zsl_matches),
                    "terminations": len(builder.terminations), "interfaces": interfaces, "atoms": atoms,
                    "seconds_matches": t1 - t0, "seconds_total": t2 - t0})
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
