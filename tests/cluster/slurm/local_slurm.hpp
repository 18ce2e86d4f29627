// The single-node Slurm of this machine for the `slurm` tests: started once per test program
// with scripts/slurm-local.sh start (as root it installs slurm-wlm and munge when missing).
#pragma once

#include <doctest/doctest.h>

#include "test_paths.hpp"

namespace interphase::testing {

inline void start_local_slurm() {
    static bool started = false;
    if (started) return;
    const auto [status, out] = run_command("'" + (source_dir() / "scripts/slurm-local.sh").string() + "' start 2>&1");
    INFO(out);
    REQUIRE(status == 0);
    started = true;
}

}  // namespace interphase::testing
