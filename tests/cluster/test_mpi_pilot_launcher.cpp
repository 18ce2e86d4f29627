// The MPI pilot's launcher templates (cluster/mpi_pilot.hpp): how an external code's command line
// is prefixed on a worker rank. The pilot itself runs under mpirun in tests/cluster/mpi/.
#include <doctest/doctest.h>

#include "cluster/mpi_pilot.hpp"
#include "common/errors.hpp"

using namespace interphase;
using V = std::vector<std::string>;

TEST_CASE("launcher templates: none, srun, mpirun; placeholders substituted word by word") {
    CHECK(cluster::launcher_prefix("none", 4, "n1", 2).empty());
    CHECK(cluster::launcher_prefix("", 4, "n1", 2).empty());
    CHECK(cluster::launcher_prefix("srun --exclusive -n {cores}", 4, "n1", 2) == V{"srun", "--exclusive", "-n", "4"});
    CHECK(cluster::launcher_prefix("mpirun --host {host} -np {cores}", 8, "node07", 3) ==
          V{"mpirun", "--host", "node07", "-np", "8"});
    CHECK(cluster::launcher_prefix("  env RANK={rank}  ", 1, "h", 5) == V{"env", "RANK=5"});
    CHECK_THROWS_AS(cluster::launcher_prefix("srun -n {ncores}", 4, "h", 1), InputError);
}
