// The atoms of a stored interface structure as the interface tests read them: side tag, height
// along the normal, fixed flag, layer; and the interface plane from the side tags alone
// (independent of the builder's own plane).
#pragma once

#include <Eigen/Dense>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace interphase::testing {

struct Atoms {
    std::vector<std::string> label;
    std::vector<double> z;
    std::vector<bool> fixed;
    std::vector<int> layer;
};

// The interface normal is z for the builder's slab model (a, b in plane).
inline Atoms atoms_of(const nlohmann::json& structure) {
    Atoms a;
    Eigen::Matrix3d L;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) L(i, j) = structure["lattice"][i][j].get<double>();
    for (const auto& at : structure["atoms"]) {
        const Eigen::Vector3d f(at["frac"][0].get<double>(), at["frac"][1].get<double>(), at["frac"][2].get<double>());
        a.z.push_back((L.transpose() * f).z());
        a.label.push_back(at.value("label", ""));
        a.fixed.push_back(at.value("fixed", false));
        a.layer.push_back(at.value("layer", -1));
    }
    return a;
}

// Height of the interface plane: halfway between A's highest and B's lowest host atom.
inline double interface_plane(const Atoms& a) {
    double top_a = -1e9, bottom_b = 1e9;
    for (std::size_t i = 0; i < a.z.size(); ++i) {
        if (a.label[i] == "A") top_a = std::max(top_a, a.z[i]);
        if (a.label[i] == "B") bottom_b = std::min(bottom_b, a.z[i]);
    }
    return 0.5 * (top_a + bottom_b);
}

}  // namespace interphase::testing
