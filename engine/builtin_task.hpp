// Builtin (in-process) calculations as external jobs. On the local executor the engine evaluates
// a builtin potential in its own process; a batch executor (Slurm) runs every calculation as a
// job, so a builtin calculation is written to its task folder (builtin_task.json: calculator and
// request) and run there by the hidden `interphase calc-task TASK_DIR`, which writes result.json.
// The engine then reads that file exactly where it would parse a DFT code's output, so both
// paths share the runner's run_with_potential() and give the same numbers.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plugins/calculator.hpp"

namespace interphase::engine {

/// The engine's in-process evaluation of a builtin calculation (run_with_potential in
/// engine/runner.cpp): the task output JSON; throws CalculationError (e.g. not relaxed).
nlohmann::json evaluate_builtin(const plugins::Calculator& calc, const plugins::CalculationRequest& req);

/// Writes DIR/builtin_task.json: what `interphase calc-task DIR` needs to compute `req`.
void write_builtin_task(const std::filesystem::path& dir, const std::string& code, const nlohmann::json& config,
                        const std::string& source, const plugins::CalculationRequest& req);

/// `interphase calc-task DIR`: computes the task and writes DIR/result.json (atomically), also
/// when the calculation fails (the error and its reason). Returns 0 on success, 1 on a
/// calculation error; throws on a malformed task file.
int run_builtin_task(const std::filesystem::path& dir);

/// The task output in DIR/result.json, as evaluate_builtin() returned it; rethrows a recorded
/// CalculationError; CalculationError(Missing) when absent.
nlohmann::json read_builtin_output(const std::filesystem::path& dir);

/// The argument vector of a builtin task job: `INTERPHASE calc-task DIR`. INTERPHASE is
/// `interphase_binary` if given, else $INTERPHASE_BINARY, else this process's executable.
std::vector<std::string> builtin_task_argv(const std::filesystem::path& dir, const std::string& interphase_binary);

}  // namespace interphase::engine
