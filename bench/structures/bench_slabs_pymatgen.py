#!/usr/bin/python3
"""Reference side of bench_slabs: pymatgen's SlabGenerator on the same bulk files.

usage: bench_slabs_pymatgen.py INPUT.json OUTPUT.json

INPUT:  {"phases": {"Li": "Li.cif", ...}, "max_index": 1, "min_slab": 10, "min_vacuum": 10}
OUTPUT: {"pymatgen": VERSION, "cases": [{"phase", "miller", "terminations", "atoms", "seconds"}]}

The Miller indices are pymatgen's symmetrically distinct ones up to max_index (as in
generate_all_slabs); each case times SlabGenerator(...) + get_slabs() from a loaded Structure,
with the arguments Interphase mirrors: center_slab=True, primitive=True, ftol=tol=0.1.
"""
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import pymatgen.core
from pymatgen.core import Structure
from pymatgen.core.surface import SlabGenerator, get_symmetrically_distinct_miller_indices


def main():
    spec = json.load(open(sys.argv[1]))
    cases = []
    for phase, path in spec["phases"].items():
        bulk = Structure.from_file(path)
        for hkl in get_symmetrically_distinct_miller_indices(bulk, spec["max_index"]):
            start = time.perf_counter()
            gen = SlabGenerator(bulk, hkl, spec["min_slab"], spec["min_vacuum"], center_slab=True, primitive=True)
            slabs = gen.get_slabs(ftol=0.1, tol=0.1)
            seconds = time.perf_counter() - start
            cases.append({"phase": phase, "miller": [int(x) for x in hkl], "terminations": len(slabs),
                          "atoms": sorted(len(s) for s in slabs), "seconds": seconds})
            print(f"pymatgen {phase}{tuple(hkl)}: {len(slabs)} terminations, {seconds:.3f} s", file=sys.stderr, flush=True)
    json.dump({"pymatgen": pymatgen.core.__version__, "cases": cases}, open(sys.argv[2], "w"), indent=1)


if __name__ == "__main__":
    main()
