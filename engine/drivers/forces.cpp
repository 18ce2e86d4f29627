#include "engine/drivers/forces.hpp"

namespace interphase::engine::drivers {

ForceProvider in_process(const plugins::Potential& potential) {
    // Holds a reference: the potential must outlive the provider (the calculator owns it).
    return [&potential](const std::vector<structures::Structure>& batch) {
        std::vector<EnergyForces> out;
        out.reserve(batch.size());
        for (const auto& s : batch) out.push_back(potential.compute(s));
        return out;
    };
}

}  // namespace interphase::engine::drivers
