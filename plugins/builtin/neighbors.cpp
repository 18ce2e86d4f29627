#include "plugins/builtin/neighbors.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "common/errors.hpp"

namespace interphase::plugins::builtin {
namespace {

// Beyond this many atoms plus images the cutoff is absurd for the cell (a 1 Å cell with a
// 100 Å cutoff); refusing is better than exhausting memory.
constexpr double kMaxPoints = 2e7;
// Two atoms closer than this share a position: the pair direction d/r is undefined.
constexpr double kCoincident = 1e-8;  // Å

struct Point {
    std::size_t atom;
    std::array<int, 3> image;  ///< translation of the wrapped atom
    Eigen::Vector3d x;         ///< Å
};

bool lexicographically_positive(const std::array<int, 3>& t) {
    for (int v : t)
        if (v != 0) return v > 0;
    return false;
}

}  // namespace

std::vector<NeighborPair> neighbor_pairs(const structures::Structure& s, double cutoff) {
    if (!(cutoff > 0) || !std::isfinite(cutoff))
        throw StructureError(fmt::format("neighbour list: cutoff {} Å must be a positive number", cutoff));
    const Eigen::Matrix3d& L = s.lattice();
    const double volume = s.volume();
    if (!L.allFinite() || !(volume > 1e-6))
        throw StructureError(fmt::format("neighbour list: singular lattice (cell volume {:.3g} Å^3)", volume));
    const auto& pbc = s.pbc();
    const std::size_t n = s.size();

    // The reciprocal vectors (without 2π) are the columns of L^-1; 1/|b_k| is the spacing of
    // the lattice planes normal to b_k, so the cutoff spans cutoff*|b_k| cells along k.
    const Eigen::Matrix3d inv = L.inverse();
    std::array<double, 3> reach{0, 0, 0};
    std::array<int, 3> images{0, 0, 0};
    double copies = 1;
    for (int k = 0; k < 3; ++k) {
        if (!pbc[static_cast<std::size_t>(k)]) continue;
        reach[static_cast<std::size_t>(k)] = cutoff * inv.col(k).norm() + 1e-9;
        images[static_cast<std::size_t>(k)] = static_cast<int>(std::ceil(reach[static_cast<std::size_t>(k)])) + 1;
        copies *= 2.0 * images[static_cast<std::size_t>(k)] + 1;
    }
    if (static_cast<double>(n) * copies > kMaxPoints)
        throw StructureError(fmt::format("neighbour list: a cutoff of {} Å needs ~{:.0e} periodic images of this "
                                         "{:.3g} Å^3 cell; the cell is too small for the cutoff", cutoff,
                                         static_cast<double>(n) * copies, volume));

    std::vector<Eigen::Vector3d> position(n);
    std::vector<Eigen::Vector3d> wrapped(n);
    std::vector<std::array<int, 3>> shift(n, {0, 0, 0});
    for (std::size_t i = 0; i < n; ++i) {
        const Eigen::Vector3d& f = s[i].frac;
        if (!f.allFinite())
            throw StructureError(fmt::format("neighbour list: atom {} ({}) has non-finite coordinates", i + 1, s[i].species));
        position[i] = s.to_cartesian(f);
        wrapped[i] = f;
        for (int k = 0; k < 3; ++k)
            if (pbc[static_cast<std::size_t>(k)]) {
                const double m = std::floor(f[k]);
                wrapped[i][k] = f[k] - m;
                shift[i][static_cast<std::size_t>(k)] = static_cast<int>(m);
            }
    }

    // Atoms (wrapped into the cell along periodic directions) and their images within the
    // cutoff of the cell: every partner of an atom of the cell is one of these points.
    std::vector<Point> points;
    points.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        for (int a = -images[0]; a <= images[0]; ++a)
            for (int b = -images[1]; b <= images[1]; ++b)
                for (int c = -images[2]; c <= images[2]; ++c) {
                    const std::array<int, 3> t{a, b, c};
                    Eigen::Vector3d w = wrapped[i] + Eigen::Vector3d(a, b, c);
                    bool inside = true;
                    for (std::size_t k = 0; k < 3 && inside; ++k)
                        if (pbc[k]) inside = w[static_cast<int>(k)] >= -reach[k] && w[static_cast<int>(k)] <= 1 + reach[k];
                    if (inside) points.push_back({i, t, s.to_cartesian(w)});
                }
    if (points.empty()) return {};

    // Cell list: cubic bins at least `cutoff` wide, so partners are in the 27 surrounding
    // bins. Bins grow when the box is mostly empty (a molecule in a large box).
    Eigen::Vector3d lo = points[0].x, hi = points[0].x;
    for (const auto& p : points) {
        lo = lo.cwiseMin(p.x);
        hi = hi.cwiseMax(p.x);
    }
    const Eigen::Vector3d extent = hi - lo;
    double width = cutoff;
    std::array<long long, 3> dims{1, 1, 1};
    for (;;) {
        for (int k = 0; k < 3; ++k)
            dims[static_cast<std::size_t>(k)] = std::max(1LL, static_cast<long long>(std::floor(extent[k] / width)));
        if (static_cast<double>(dims[0]) * static_cast<double>(dims[1]) * static_cast<double>(dims[2]) <=
            8.0 * static_cast<double>(points.size()) + 64)
            break;
        width *= 1.25;
    }
    Eigen::Vector3d bin_size;
    for (int k = 0; k < 3; ++k) bin_size[k] = dims[static_cast<std::size_t>(k)] > 1 ? extent[k] / static_cast<double>(dims[static_cast<std::size_t>(k)]) : 1.0;
    auto bin_of = [&](const Eigen::Vector3d& x) {
        std::array<long long, 3> b{};
        for (int k = 0; k < 3; ++k) {
            const auto K = static_cast<std::size_t>(k);
            b[K] = dims[K] > 1 ? static_cast<long long>(std::floor((x[k] - lo[k]) / bin_size[k])) : 0;
            b[K] = std::clamp(b[K], 0LL, dims[K] - 1);
        }
        return b;
    };
    auto flat = [&](const std::array<long long, 3>& b) {
        return static_cast<std::size_t>((b[0] * dims[1] + b[1]) * dims[2] + b[2]);
    };
    const std::size_t nbins = static_cast<std::size_t>(dims[0] * dims[1] * dims[2]);
    std::vector<std::size_t> start(nbins + 1, 0), order(points.size());
    std::vector<std::size_t> bin_index(points.size());
    for (std::size_t p = 0; p < points.size(); ++p) {
        bin_index[p] = flat(bin_of(points[p].x));
        ++start[bin_index[p] + 1];
    }
    for (std::size_t b = 0; b < nbins; ++b) start[b + 1] += start[b];
    {
        std::vector<std::size_t> fill(start.begin(), start.end() - 1);
        for (std::size_t p = 0; p < points.size(); ++p) order[fill[bin_index[p]]++] = p;
    }

    const double cutoff2 = cutoff * cutoff;
    std::vector<NeighborPair> pairs;
    for (std::size_t i = 0; i < n; ++i) {
        const auto home = bin_of(s.to_cartesian(wrapped[i]));
        for (long long da = -1; da <= 1; ++da)
            for (long long db = -1; db <= 1; ++db)
                for (long long dc = -1; dc <= 1; ++dc) {
                    const std::array<long long, 3> b{home[0] + da, home[1] + db, home[2] + dc};
                    if (b[0] < 0 || b[1] < 0 || b[2] < 0 || b[0] >= dims[0] || b[1] >= dims[1] || b[2] >= dims[2]) continue;
                    const std::size_t fb = flat(b);
                    for (std::size_t q = start[fb]; q < start[fb + 1]; ++q) {
                        const Point& p = points[order[q]];
                        const std::size_t j = p.atom;
                        if (j < i) continue;
                        // Translation of j's stored position (not of its wrapped copy).
                        std::array<int, 3> image{};
                        for (std::size_t k = 0; k < 3; ++k) image[k] = p.image[k] - shift[j][k] + shift[i][k];
                        if (j == i && !lexicographically_positive(image)) continue;
                        const Eigen::Vector3d d =
                            position[j] + s.to_cartesian(Eigen::Vector3d(image[0], image[1], image[2])) - position[i];
                        const double r2 = d.squaredNorm();
                        if (r2 > cutoff2) continue;
                        const double r = std::sqrt(r2);
                        if (r < kCoincident)
                            throw StructureError(fmt::format("atoms {} ({}) and {} ({}) are at the same position "
                                                             "({:.2g} Å apart)", i + 1, s[i].species, j + 1,
                                                             s[j].species, r));
                        pairs.push_back({i, j, image, d, r});
                    }
                }
    }
    return pairs;
}

}  // namespace interphase::plugins::builtin
