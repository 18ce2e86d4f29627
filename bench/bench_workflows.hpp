// Workflows the benchmarks share: N builtin-EMT hosts, all distinct (each host's vacuum differs
// by 0.001 Å, so no content hash repeats and nothing is reused).
#pragma once

#include <fmt/format.h>

#include <string>

namespace interphase::bench {

/// A binding-energy workflow of `hosts` Cu(100) 2-layer slabs with a Cu adatom on the hollow
/// site, EMT, 5 tasks per host + 3 (reference and bulk).
inline std::string emt_hosts_workflow(const std::string& name, int hosts) {
    std::string y = "name: " + name +
                    "\ncalculator: {code: emt}\n"
                    "protocol: {name: fast, fmax: 0.1, max_relax_steps: 200}\nadsorbate: Cu\nreference: isolated_atom\nhosts:\n";
    for (int i = 0; i < hosts; ++i)
        y += fmt::format("  - {{name: h{}, phase: Cu, miller: [1, 0, 0], layers: 2, vacuum: {:.3f}, "
                         "fix_bottom_layers: 1, sites: [hollow]}}\n",
                         i, 8.0 + 0.001 * i);
    return y;
}

}  // namespace interphase::bench
