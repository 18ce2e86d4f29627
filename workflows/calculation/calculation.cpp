#include "workflows/calculation/calculation.hpp"

#include "workflows/structure_tasks.hpp"

namespace interphase::workflows::calculation {

namespace {

std::shared_ptr<const KindSpec> read(const WorkflowReader& r, const YAML::Node& root, const InputFiles& files,
                                     WorkflowSpec&) {
    auto spec = std::make_shared<Spec>();
    if (!root["structure"]) r.fail(root, "structure", "is required (the structure file to compute)");
    spec->structure = read_structure_file(r, root["structure"], "structure", files, spec->structure_source);
    if (root["relax"]) spec->relax = r.get<bool>(root["relax"], "relax", "true or false");
    return spec;
}

engine::TaskGraph expand(const WorkflowSpec& workflow) {
    const auto& spec = workflow.as<Spec>();
    engine::TaskGraph g;
    g.add({"structure", kBuildBulk, {{"structure", spec.structure}, {"source", spec.structure_source}}, {}});
    g.add({spec.relax ? "structure/relax" : "structure/single_point", engine::kinds::kCalculation,
           {{"calculation", spec.relax ? "relaxation" : "single_point"},
            {"label", std::filesystem::path(spec.structure_source).filename().string()},
            {"spin_multiplicity", 0}},
           {{"structure", "structure"}}});
    return g;
}

}  // namespace

WorkflowKind workflow_kind() {
    return {"calculation", "one structure: a single point or a relaxation (interphase calc)", {"structure", "relax"}, read,
            expand, [] { return std::vector<engine::TaskKind>{}; }};
}

}  // namespace interphase::workflows::calculation
