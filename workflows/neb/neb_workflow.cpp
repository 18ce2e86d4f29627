#include "workflows/neb/neb_workflow.hpp"

#include "workflows/structure_tasks.hpp"

namespace interphase::workflows::neb {

namespace {

std::shared_ptr<const KindSpec> read(const WorkflowReader& r, const YAML::Node& root, const InputFiles& files,
                                     WorkflowSpec&) {
    auto spec = std::make_shared<Spec>();
    for (const char* k : {"start", "end"})
        if (!root[k]) r.fail(root, k, "is required (the end points of the band, structure files)");
    spec->start = read_structure_file(r, root["start"], "start", files, spec->start_source);
    spec->end = read_structure_file(r, root["end"], "end", files, spec->end_source);
    if (const auto& n = root["neb"]) {
        r.only_keys(n, "neb", band_keys());
        read_band_settings(r, n, "neb", spec->band);
    }
    return spec;
}

engine::TaskGraph expand(const WorkflowSpec& workflow) {
    const auto& spec = workflow.as<Spec>();
    engine::TaskGraph g;
    g.add({"start", kBuildBulk, {{"structure", spec.start}, {"source", spec.start_source}}, {}});
    g.add({"end", kBuildBulk, {{"structure", spec.end}, {"source", spec.end_source}}, {}});
    add_band_tasks(g, "band", "start", "end", spec.band, {{"hop", "start-end"}}, workflow.protocol);
    return g;
}

}  // namespace

WorkflowKind workflow_kind() {
    return {"neb", "CI-NEB between two given structures (interphase neb)", {"start", "end", "neb"}, read, expand,
            [] { return std::vector<engine::TaskKind>{}; }};
}

}  // namespace interphase::workflows::neb
