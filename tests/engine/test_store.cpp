// The durable store: states survive reopening, interrupted tasks are reset, results are found by
// hash, and every real execution is logged (so "no finished task ran twice" can be checked).
#include <doctest/doctest.h>

#include "engine/store.hpp"
#include "test_paths.hpp"

using namespace interphase::engine;

namespace {
TaskGraph two_tasks() {
    TaskGraph g;
    g.add({"bulk/Al", kinds::kBuildBulk, {{"phase", "Al"}}, {}});
    g.add({"Al(111)/slab", kinds::kBuildSlab, {}, {{"bulk", "bulk/Al"}}});
    return g;
}
}  // namespace

TEST_CASE("task states and results persist across reopening the store") {
    const auto dir = interphase::testing::scratch("store");
    {
        RunStore store(dir);
        CHECK(store.sync(two_tasks()) == 0);
        store.set_meta("workflow_name", "demo");
        store.mark_running("bulk/Al", "h1");
        store.mark_done("bulk/Al", "h1", {{"x", 1}}, 0.5, false);
        store.mark_running("Al(111)/slab", "h2");  // then the process "dies"
    }
    RunStore store(dir);
    CHECK(store.meta("workflow_name") == "demo");
    CHECK(store.task("bulk/Al")->state == state::kDone);
    CHECK(store.task("Al(111)/slab")->state == state::kRunning);
    CHECK(store.output_of("bulk/Al")->at("x") == 1);
    CHECK(store.cached_output("h1")->at("x") == 1);
    CHECK_FALSE(store.cached_output("h2").has_value());
    // Resync after the crash: the interrupted task is pending again, its execution is closed.
    CHECK(store.sync(two_tasks()) == 1);
    CHECK(store.task("Al(111)/slab")->state == state::kPending);
    CHECK(store.executions("bulk/Al") == 1);
    CHECK(store.executions("Al(111)/slab") == 1);
    // A reuse is not an execution.
    store.mark_done("bulk/Al", "h1", {{"x", 1}}, 0, true);
    CHECK(store.executions("bulk/Al") == 1);
    CHECK(store.task("bulk/Al")->reused);
}

TEST_CASE("failures and blocked dependents are recorded with their reason") {
    const auto dir = interphase::testing::scratch("store-fail");
    RunStore store(dir);
    store.sync(two_tasks());
    store.mark_running("bulk/Al", "h1");
    store.mark_failed("bulk/Al", "SCF not converged");
    store.mark_blocked("Al(111)/slab", "input 'bulk/Al' failed");
    const auto tasks = store.tasks();
    REQUIRE(tasks.size() == 2);
    CHECK(tasks[0].name == "bulk/Al");  // graph order
    CHECK(tasks[0].state == state::kFailed);
    CHECK(tasks[0].error == "SCF not converged");
    CHECK(tasks[0].attempts == 1);
    CHECK(tasks[1].state == state::kBlocked);
    CHECK_FALSE(store.output_of("bulk/Al").has_value());
}

TEST_CASE("a batch commits its state changes together; until then another reader sees none") {
    const auto dir = interphase::testing::scratch("store-batch");
    RunStore store(dir);
    store.sync(two_tasks());
    store.begin_batch();
    CHECK(store.in_batch());
    store.mark_running("bulk/Al", "h1");
    store.mark_done("bulk/Al", "h1", {{"x", 1}}, 0.5, false);
    store.add_tasks({{"Al(111)/sites", kinds::kFindSites, {}, {{"slab", "Al(111)/slab"}}}});
    {
        RunStore reader(dir);  // another connection, as after a crash: the batch is invisible
        CHECK(reader.task("bulk/Al")->state == state::kPending);
        CHECK(reader.executions("bulk/Al") == 0);
        CHECK_FALSE(reader.task("Al(111)/sites").has_value());
    }
    store.commit_batch();
    CHECK_FALSE(store.in_batch());
    RunStore reader(dir);
    CHECK(reader.task("bulk/Al")->state == state::kDone);
    CHECK(reader.completed_executions("bulk/Al") == 1);
    CHECK(reader.task("Al(111)/sites").has_value());
}
