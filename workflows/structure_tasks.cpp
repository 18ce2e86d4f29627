#include "workflows/structure_tasks.hpp"

#include "structures/prototypes.hpp"

namespace interphase::workflows {

namespace st = interphase::structures;

nlohmann::json build_bulk(const engine::Task& t, const engine::Inputs&) {
    if (t.params.contains("phase")) {
        auto s = st::build_bulk(t.params.at("phase").get<std::string>());
        return {{"structure", st::to_json(s)}, {"formula", s.formula()}};
    }
    auto s = st::structure_from_json(t.params.at("structure"), t.params.value("source", t.name));
    return {{"structure", st::to_json(s)}, {"formula", s.formula()}};
}

engine::TaskKind build_bulk_kind() {
    engine::TaskKind k;
    k.name = kBuildBulk;
    k.description = "a bulk crystal: a built-in prototype or a structure file read with the workflow";
    k.run = build_bulk;
    k.numeric_fields = std::vector<std::string>{};
    return k;
}

}  // namespace interphase::workflows
