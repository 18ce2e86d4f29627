#include "engine/drivers/neb.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <fmt/format.h>
#include <memory>

#include "common/errors.hpp"
#include "common/text.hpp"

namespace interphase::engine::drivers {

using structures::Structure;

const char* to_string(BandOptimizer o) {
    switch (o) {
        case BandOptimizer::Fire: return "fire";
        case BandOptimizer::Bfgs: return "bfgs";
        case BandOptimizer::Lbfgs: return "lbfgs";
    }
    return "unknown";
}

BandOptimizer parse_band_optimizer(const std::string& name, const std::string& source, const std::string& field) {
    const std::string n = text::to_lower(text::trim(name));
    for (auto o : {BandOptimizer::Fire, BandOptimizer::Bfgs, BandOptimizer::Lbfgs})
        if (n == to_string(o)) return o;
    throw InputError(source, field, text::unknown_name_message("NEB optimizer", name, {"fire", "bfgs", "lbfgs"}));
}

namespace {

constexpr const char* kSource = "neb";

// ---------------------------------------------------------------------------------------------
// Validation: everything is checked before the first force call, so a bad path costs nothing.

void check_positive(double v, const char* field, const std::string& source) {
    if (!(v > 0) || std::isnan(v)) throw InputError(source, field, fmt::format("must be > 0, got {}", v));
}

void validate_options(const NebOptions& o, const std::string& source) {
    check_positive(o.spring, "spring", source);
    if (!std::isfinite(o.spring)) throw InputError(source, "spring", "must be finite");
    check_positive(o.fmax, "fmax", source);
    if (!std::isfinite(o.fmax)) throw InputError(source, "fmax", "must be finite");
    check_positive(o.climb_after, "climb_after", source);  // +inf (climb from the start) is allowed
    if (o.max_iterations < 0) throw InputError(source, "max_iterations", fmt::format("must be >= 0, got {}", o.max_iterations));
    check_positive(o.max_step, "max_step", source);
    if (!std::isfinite(o.max_step)) throw InputError(source, "max_step", "must be finite");
    check_positive(o.fire_dt, "fire.dt", source);
    check_positive(o.fire_dt_max, "fire.dtmax", source);
    if (o.fire_n_min < 0) throw InputError(source, "fire.nmin", "must be >= 0");
    check_positive(o.fire_f_inc, "fire.finc", source);
    if (!(o.fire_f_dec > 0 && o.fire_f_dec < 1)) throw InputError(source, "fire.fdec", "must be in (0, 1)");
    if (!(o.fire_alpha_start >= 0 && o.fire_alpha_start <= 1)) throw InputError(source, "fire.astart", "must be in [0, 1]");
    if (!(o.fire_f_alpha > 0 && o.fire_f_alpha <= 1)) throw InputError(source, "fire.fa", "must be in (0, 1]");
    check_positive(o.bfgs_alpha, "bfgs.alpha", source);
    if (o.lbfgs_memory < 1) throw InputError(source, "lbfgs.memory", fmt::format("must be >= 1, got {}", o.lbfgs_memory));
}

// Minimum-image form of a Cartesian displacement in `cell` (identity along non-periodic axes).
class MinimumImage {
public:
    explicit MinimumImage(const Structure& cell)
        : cell_(cell.lattice(), cell.pbc()),
          to_frac_(cell.lattice().transpose().inverse()),
          periodic_(cell.pbc()[0] || cell.pbc()[1] || cell.pbc()[2]) {}
    Eigen::Vector3d operator()(const Eigen::Vector3d& d) const {
        if (!periodic_) return d;
        return cell_.minimum_image(Eigen::Vector3d::Zero(), to_frac_ * d);
    }
    Eigen::Vector3d fractional(const Eigen::Vector3d& cart) const { return to_frac_ * cart; }
private:
    Structure cell_;
    Eigen::Matrix3d to_frac_;
    bool periodic_;
};

void validate_path(const std::vector<Structure>& path) {
    if (path.size() < 3)
        throw InputError(kSource, "images",
                         fmt::format("a band needs the 2 endpoints and at least 1 intermediate image, got {} image{}",
                                     path.size(), path.size() == 1 ? "" : "s"));
    const Structure& ref = path.front();
    if (ref.size() == 0) throw InputError(kSource, "images[0]", "has no atoms");
    for (std::size_t i = 0; i < path.size(); ++i) {
        const Structure& s = path[i];
        const std::string img = fmt::format("images[{}]", i);
        if (s.size() != ref.size())
            throw InputError(kSource, img, fmt::format("has {} atoms but images[0] has {}: every image needs the "
                                                       "same atoms in the same order", s.size(), ref.size()));
        if (s.pbc() != ref.pbc()) throw InputError(kSource, img + ".pbc", "differs from images[0]");
        if ((s.lattice() - ref.lattice()).cwiseAbs().maxCoeff() > 1e-8)
            throw InputError(kSource, img + ".lattice", "differs from images[0]: variable-cell NEB is not supported");
        try {
            s.validate(fmt::format("{}: {}", kSource, img), 0.0);
        } catch (const StructureError& e) {
            throw InputError(kSource, img, e.what());
        }
        for (std::size_t a = 0; a < s.size(); ++a) {
            if (s[a].species != ref[a].species)
                throw InputError(kSource, fmt::format("{}.atoms[{}].species", img, a),
                                 fmt::format("is '{}' but atom {} of images[0] is '{}': every image needs the same "
                                             "atoms in the same order", s[a].species, a, ref[a].species));
            if (s[a].fixed != ref[a].fixed)
                throw InputError(kSource, fmt::format("{}.atoms[{}].fixed", img, a),
                                 fmt::format("is {} but {} in images[0]: fixed atoms must be the same in every image",
                                             s[a].fixed, ref[a].fixed));
        }
    }
    // A fixed atom that sits elsewhere in another image would be dragged by the springs although
    // it can never move: the path is inconsistent.
    const MinimumImage mic(ref);
    for (std::size_t i = 1; i < path.size(); ++i)
        for (std::size_t a = 0; a < ref.size(); ++a)
            if (ref[a].fixed) {
                const double d = mic(path[i].cartesian(a) - ref.cartesian(a)).norm();
                if (d > 1e-6)
                    throw InputError(kSource, fmt::format("images[{}].atoms[{}]", i, a),
                                     fmt::format("fixed atom {} ({}) is {:.3g} Å away from its place in images[0]", a,
                                                 ref[a].species, d));
            }
}

// ---------------------------------------------------------------------------------------------
// Band optimizers. Each sees the free coordinates of all moving images as one vector x and the
// NEB force as f, and proposes a step; three consecutive entries belong to one atom.

double max_atom_step(const Eigen::VectorXd& dr) {
    double m = 0;
    for (Eigen::Index a = 0; a < dr.size() / 3; ++a) m = std::max(m, dr.segment<3>(3 * a).norm());
    return m;
}

class BandStepper {
public:
    virtual ~BandStepper() = default;
    virtual Eigen::VectorXd step(const Eigen::VectorXd& x, const Eigen::VectorXd& f) = 0;
    /// The force field changed discontinuously (climbing image switched on): forget the history.
    virtual void reset() = 0;
};

// ase.optimize.FIRE (3.22), line for line: the step cap applies to the norm of the whole band step.
class Fire final : public BandStepper {
public:
    explicit Fire(const NebOptions& o) : o_(o) { reset(); }
    void reset() override {
        v_.resize(0);
        dt_ = o_.fire_dt;
        a_ = o_.fire_alpha_start;
        n_ = 0;
    }
    Eigen::VectorXd step(const Eigen::VectorXd&, const Eigen::VectorXd& f) override {
        if (v_.size() != f.size()) {
            v_ = Eigen::VectorXd::Zero(f.size());
        } else if (f.dot(v_) > 0) {
            const double fn = f.norm();
            if (fn > 0) v_ = (1 - a_) * v_ + a_ * f / fn * v_.norm();
            if (n_ > o_.fire_n_min) {
                dt_ = std::min(dt_ * o_.fire_f_inc, o_.fire_dt_max);
                a_ *= o_.fire_f_alpha;
            }
            ++n_;
        } else {
            v_.setZero();
            a_ = o_.fire_alpha_start;
            dt_ *= o_.fire_f_dec;
            n_ = 0;
        }
        v_ += dt_ * f;
        Eigen::VectorXd dr = dt_ * v_;
        const double n = dr.norm();
        if (n > o_.max_step) dr *= o_.max_step / n;
        return dr;
    }
private:
    const NebOptions& o_;
    Eigen::VectorXd v_;
    double dt_ = 0, a_ = 0;
    int n_ = 0;
};

// ase.optimize.BFGS (3.22): dense inverse-free BFGS on the Hessian, Newton step through its
// eigen-decomposition with |eigenvalues| (so a non-convex update still steps downhill), whole
// step scaled so that no atom moves more than max_step.
class Bfgs final : public BandStepper {
public:
    explicit Bfgs(const NebOptions& o) : o_(o) {}
    void reset() override { H_.resize(0, 0); }
    Eigen::VectorXd step(const Eigen::VectorXd& x, const Eigen::VectorXd& f) override {
        if (H_.rows() != x.size()) {
            H_ = Eigen::MatrixXd::Identity(x.size(), x.size()) * o_.bfgs_alpha;
        } else {
            const Eigen::VectorXd dr = x - r0_;
            if (dr.cwiseAbs().maxCoeff() >= 1e-7) {  // same configuration again: nothing to learn
                const Eigen::VectorXd df = f - f0_;
                const double a = dr.dot(df);
                const Eigen::VectorXd dg = H_ * dr;
                const double b = dr.dot(dg);
                // ASE updates unguarded. A pair with negative curvature along the step (possible as
                // the NEB force is no gradient) would make H indefinite and its near-zero eigenvalues
                // give steps along meaningless directions; such pairs are skipped (never seen on the
                // EMT benches, where the runs match ASE's call for call).
                if (a < 0 && b > 0) H_ -= df * df.transpose() / a + dg * dg.transpose() / b;
            }
        }
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(H_);
        const Eigen::VectorXd omega = eig.eigenvalues().cwiseAbs();
        Eigen::VectorXd dr = eig.eigenvectors() * (eig.eigenvectors().transpose() * f).cwiseQuotient(omega);
        const double m = max_atom_step(dr);
        if (m >= o_.max_step) dr *= o_.max_step / m;
        r0_ = x;
        f0_ = f;
        return dr;
    }
private:
    const NebOptions& o_;
    Eigen::MatrixXd H_;
    Eigen::VectorXd r0_, f0_;
};

// Global L-BFGS on the band (Sheppard, Terrell & Henkelman, J. Chem. Phys. 128, 134106, 2008):
// two-loop recursion with the initial inverse Hessian scaled by the newest pair (s.y / y.y);
// pairs that violate the curvature condition are not stored. The NEB force is no gradient (the
// springs act along the tangent only, the climbing image climbs), so the quasi-Newton model can
// point far from the force: a climbing image then runs away uphill and never comes back. A
// direction more than 60° away from the force (cosine < kMinCosine) therefore drops the memory
// and takes a steepest-descent step f/alpha. On the Müller–Brown surface this makes every tested
// band converge; on the EMT benches it never triggers.
class Lbfgs final : public BandStepper {
public:
    static constexpr double kMinCosine = 0.5;
    explicit Lbfgs(const NebOptions& o) : o_(o) {}
    void reset() override {
        pairs_.clear();
        x0_.resize(0);
    }
    Eigen::VectorXd step(const Eigen::VectorXd& x, const Eigen::VectorXd& f) override {
        if (x0_.size() == x.size()) {
            Pair p{x - x0_, f0_ - f, 0};  // y = change of the gradient = -(change of the force)
            const double sy = p.s.dot(p.y);
            if (sy > 1e-12 * p.s.norm() * p.y.norm() && sy > 0) {
                p.rho = 1 / sy;
                pairs_.push_back(std::move(p));
                if (static_cast<int>(pairs_.size()) > o_.lbfgs_memory) pairs_.pop_front();
            }
        }
        Eigen::VectorXd q = -f;
        std::vector<double> alpha(pairs_.size());
        for (std::size_t k = pairs_.size(); k-- > 0;) {
            alpha[k] = pairs_[k].rho * pairs_[k].s.dot(q);
            q -= alpha[k] * pairs_[k].y;
        }
        const double h0 = pairs_.empty() ? 1 / o_.bfgs_alpha
                                         : pairs_.back().s.dot(pairs_.back().y) / pairs_.back().y.squaredNorm();
        Eigen::VectorXd r = h0 * q;
        for (std::size_t k = 0; k < pairs_.size(); ++k) {
            const double beta = pairs_[k].rho * pairs_[k].y.dot(r);
            r += pairs_[k].s * (alpha[k] - beta);
        }
        Eigen::VectorXd dr = -r;
        if (!(dr.dot(f) > kMinCosine * dr.norm() * f.norm())) {
            pairs_.clear();
            dr = f / o_.bfgs_alpha;
        }
        const double m = max_atom_step(dr);
        if (m > o_.max_step) dr *= o_.max_step / m;
        x0_ = x;
        f0_ = f;
        return dr;
    }
private:
    struct Pair {
        Eigen::VectorXd s, y;
        double rho;
    };
    const NebOptions& o_;
    std::deque<Pair> pairs_;
    Eigen::VectorXd x0_, f0_;
};

std::unique_ptr<BandStepper> make_stepper(const NebOptions& o) {
    switch (o.optimizer) {
        case BandOptimizer::Fire: return std::make_unique<Fire>(o);
        case BandOptimizer::Bfgs: return std::make_unique<Bfgs>(o);
        case BandOptimizer::Lbfgs: return std::make_unique<Lbfgs>(o);
    }
    throw InputError(kSource, "optimizer", "unknown optimizer");
}

// ---------------------------------------------------------------------------------------------
// The band: Cartesian positions of every image, the true energies and forces, the NEB forces.

using Positions = std::vector<Eigen::Vector3d>;

class Band {
public:
    Band(const std::vector<Structure>& path, const NebOptions& o) : images_(path), o_(o), mic_(path.front()) {
        for (const auto& s : path) {
            Positions p(s.size());
            for (std::size_t a = 0; a < s.size(); ++a) p[a] = s.cartesian(a);
            pos_.push_back(std::move(p));
        }
        for (std::size_t a = 0; a < path.front().size(); ++a)
            if (!path.front()[a].fixed) free_.push_back(a);
        energies_.assign(path.size(), 0.0);
        true_forces_.assign(path.size(), Positions(natoms(), Eigen::Vector3d::Zero()));
        neb_forces_ = true_forces_;
        image_fmax_.assign(path.size(), 0.0);
    }

    std::size_t nimages() const { return pos_.size(); }
    std::size_t natoms() const { return images_.front().size(); }
    bool climbing() const { return climbing_; }

    /// Evaluates images [first, last] as one batch; returns the number of structures evaluated.
    long evaluate(const ForceProvider& provider, std::size_t first, std::size_t last) {
        std::vector<Structure> batch;
        for (std::size_t i = first; i <= last; ++i) batch.push_back(structure(i));
        const auto results = provider(batch);
        if (results.size() != batch.size())
            throw CalculationError(CalculationError::Reason::Missing,
                                   fmt::format("neb: the force provider returned {} results for a batch of {} images",
                                               results.size(), batch.size()));
        for (std::size_t k = 0; k < results.size(); ++k) {
            const std::size_t i = first + k;
            const auto& r = results[k];
            if (r.forces.size() != natoms())
                throw CalculationError(CalculationError::Reason::Missing,
                                       fmt::format("neb: image {}: {} forces for {} atoms", i, r.forces.size(), natoms()));
            if (!std::isfinite(r.energy))
                throw CalculationError(CalculationError::Reason::Crashed, fmt::format("neb: image {}: energy is {}", i, r.energy));
            energies_[i] = r.energy;
            for (std::size_t a = 0; a < natoms(); ++a) {
                if (!r.forces[a].allFinite())
                    throw CalculationError(CalculationError::Reason::Crashed,
                                           fmt::format("neb: image {}: force on atom {} is not finite", i, a));
                // Fixed atoms feel no force, as under ASE's FixAtoms.
                true_forces_[i][a] = images_[i][a].fixed ? Eigen::Vector3d::Zero() : r.forces[a];
            }
        }
        return static_cast<long>(batch.size());
    }

    void set_energies(const std::vector<double>& e) { energies_ = e; }

    /// NEB forces of the moving images (improved tangent, spring force along it, climbing image).
    void project(bool climb) {
        climbing_ = climb;
        const std::size_t n = nimages();
        imax_ = 1;
        for (std::size_t i = 2; i + 1 < n; ++i)
            if (energies_[i] >= energies_[imax_]) imax_ = i;  // the last of equal maxima, as ASE's argsort
        Positions t1 = displacement(0), t2;
        double fmax = 0;
        for (std::size_t i = 1; i + 1 < n; ++i) {
            t2 = displacement(i);
            const double e0 = energies_[i - 1], e1 = energies_[i], e2 = energies_[i + 1];
            Positions tau(natoms());
            if (e2 > e1 && e1 > e0) {
                tau = t2;
            } else if (e2 < e1 && e1 < e0) {
                tau = t1;
            } else {
                // At an extremum the two one-sided tangents are mixed by the energy differences so the
                // tangent turns smoothly (Henkelman & Jónsson 2000, Eqs. 10-11).
                const double dmax = std::max(std::abs(e2 - e1), std::abs(e0 - e1));
                const double dmin = std::min(std::abs(e2 - e1), std::abs(e0 - e1));
                const double w2 = e2 > e0 ? dmax : dmin, w1 = e2 > e0 ? dmin : dmax;
                for (std::size_t a = 0; a < natoms(); ++a) tau[a] = w2 * t2[a] + w1 * t1[a];
            }
            const double tn = norm(tau);
            if (tn > 0)
                for (auto& v : tau) v /= tn;
            const Positions& F = true_forces_[i];
            const double f_par = dot(F, tau);
            Positions& out = neb_forces_[i];
            if (climb && i == imax_) {
                for (std::size_t a = 0; a < natoms(); ++a) out[a] = F[a] - 2 * f_par * tau[a];
            } else {
                const double spring = o_.spring * (norm(t2) - norm(t1));
                for (std::size_t a = 0; a < natoms(); ++a) out[a] = F[a] - f_par * tau[a] + spring * tau[a];
            }
            double fm = 0;
            for (std::size_t a : free_) fm = std::max(fm, out[a].norm());
            for (std::size_t a = 0; a < natoms(); ++a)
                if (images_[i][a].fixed) out[a].setZero();
            image_fmax_[i] = fm;
            fmax = std::max(fmax, fm);
            t1 = std::move(t2);
        }
        fmax_ = fmax;
    }

    double fmax() const { return fmax_; }

    Eigen::VectorXd free_positions() const { return gather(pos_); }
    Eigen::VectorXd free_forces() const { return gather(neb_forces_); }

    void move(const Eigen::VectorXd& dr) {
        Eigen::Index k = 0;
        for (std::size_t i = 1; i + 1 < nimages(); ++i)
            for (std::size_t a : free_) {
                pos_[i][a] += dr.segment<3>(k);
                k += 3;
            }
    }

    Structure structure(std::size_t i) const {
        Structure s = images_[i];
        for (std::size_t a : free_) s[a].frac = mic_.fractional(pos_[i][a]);  // fixed atoms keep their input bits
        return s;
    }

    NebResult snapshot(bool converged, int iterations, long force_calls) const {
        NebResult r;
        for (std::size_t i = 0; i < nimages(); ++i) r.images.push_back(structure(i));
        r.energies = energies_;
        r.reaction_coordinate.assign(nimages(), 0.0);
        for (std::size_t i = 1; i < nimages(); ++i)
            r.reaction_coordinate[i] = r.reaction_coordinate[i - 1] + norm(displacement(i - 1));
        r.image_fmax = image_fmax_;
        r.fmax = fmax_;
        const double emax = *std::max_element(energies_.begin(), energies_.end());
        r.forward_barrier = emax - energies_.front();
        r.reverse_barrier = emax - energies_.back();
        r.saddle_index = imax_;
        r.climbing = climbing_;
        r.converged = converged;
        r.iterations = iterations;
        r.force_calls = force_calls;
        return r;
    }

private:
    // Minimum-image displacement from image i to image i+1, atom by atom.
    Positions displacement(std::size_t i) const {
        Positions d(natoms());
        for (std::size_t a = 0; a < natoms(); ++a) d[a] = mic_(pos_[i + 1][a] - pos_[i][a]);
        return d;
    }
    static double dot(const Positions& a, const Positions& b) {
        double s = 0;
        for (std::size_t k = 0; k < a.size(); ++k) s += a[k].dot(b[k]);
        return s;
    }
    static double norm(const Positions& a) { return std::sqrt(dot(a, a)); }
    Eigen::VectorXd gather(const std::vector<Positions>& v) const {
        Eigen::VectorXd x(static_cast<Eigen::Index>(3 * free_.size() * (nimages() - 2)));
        Eigen::Index k = 0;
        for (std::size_t i = 1; i + 1 < nimages(); ++i)
            for (std::size_t a : free_) {
                x.segment<3>(k) = v[i][a];
                k += 3;
            }
        return x;
    }

    std::vector<Structure> images_;  // templates: lattice, species, tags
    const NebOptions& o_;
    MinimumImage mic_;
    std::vector<Positions> pos_;
    std::vector<std::size_t> free_;
    std::vector<double> energies_;
    std::vector<Positions> true_forces_, neb_forces_;
    std::vector<double> image_fmax_;
    double fmax_ = 0;
    std::size_t imax_ = 1;
    bool climbing_ = false;
};

NebResult run(const std::vector<Structure>& path, const std::vector<double>* endpoint_energies, int iterations0,
              long calls0, const NebOptions& options, const ForceProvider& forces, const NebObserver& observer) {
    validate_options(options, kSource);
    validate_path(path);
    if (!forces) throw InputError(kSource, "forces", "no force provider given");

    Band band(path, options);
    const std::size_t n = band.nimages();
    long calls = calls0;
    if (endpoint_energies) {
        band.set_energies(*endpoint_energies);
        calls += band.evaluate(forces, 1, n - 2);
    } else {
        calls += band.evaluate(forces, 0, n - 1);  // one batch: endpoints and moving images together
    }
    auto stepper = make_stepper(options);
    bool climbing = false;
    // Projects the forces; switches the climbing image on once the band is close enough to the
    // path (or at once). The switch changes the force field, so the optimizer memory is dropped.
    auto project = [&] {
        band.project(climbing);
        if (options.climb && !climbing && band.fmax() < std::max(options.climb_after, options.fmax)) {
            climbing = true;
            band.project(true);
            stepper->reset();
        }
    };
    auto converged = [&] { return band.fmax() < options.fmax && (climbing || !options.climb); };
    project();
    int it = iterations0;
    if (observer) observer(band.snapshot(converged(), it, calls));
    for (int step = 0; !converged() && step < options.max_iterations; ++step) {
        band.move(stepper->step(band.free_positions(), band.free_forces()));
        ++it;
        calls += band.evaluate(forces, 1, n - 2);
        project();
        if (observer) observer(band.snapshot(converged(), it, calls));
    }
    return band.snapshot(converged(), it, calls);
}

}  // namespace

NebResult run_neb(const std::vector<Structure>& path, const NebOptions& options, const ForceProvider& forces,
                  const NebObserver& observer) {
    return run(path, nullptr, 0, 0, options, forces, observer);
}

NebResult resume_neb(const NebResult& previous, const NebOptions& options, const ForceProvider& forces,
                     const NebObserver& observer) {
    if (previous.energies.size() != previous.images.size())
        throw InputError(kSource, "energies",
                         fmt::format("{} energies for {} images", previous.energies.size(), previous.images.size()));
    return run(previous.images, &previous.energies, previous.iterations, previous.force_calls, options, forces, observer);
}

// ---------------------------------------------------------------------------------------------
// JSON forms.

nlohmann::json to_json(const NebOptions& o) {
    return {{"spring", o.spring},
            {"fmax", o.fmax},
            {"climb", o.climb},
            {"climb_after", std::isinf(o.climb_after) ? nlohmann::json("start") : nlohmann::json(o.climb_after)},
            {"optimizer", to_string(o.optimizer)},
            {"max_iterations", o.max_iterations},
            {"max_step", o.max_step},
            {"fire",
             {{"dt", o.fire_dt},
              {"dtmax", o.fire_dt_max},
              {"nmin", o.fire_n_min},
              {"finc", o.fire_f_inc},
              {"fdec", o.fire_f_dec},
              {"astart", o.fire_alpha_start},
              {"fa", o.fire_f_alpha}}},
            {"bfgs", {{"alpha", o.bfgs_alpha}}},
            {"lbfgs", {{"memory", o.lbfgs_memory}}}};
}

namespace {

// Every key of `j` must be one of `known` (else "did you mean"); `prefix` names the block.
void check_keys(const nlohmann::json& j, const std::vector<std::string>& known, const std::string& source,
                const std::string& prefix) {
    if (!j.is_object())
        throw InputError(source, prefix.empty() ? "neb" : prefix, fmt::format("must be a mapping, got {}", j.dump()));
    for (const auto& [key, v] : j.items())
        if (std::find(known.begin(), known.end(), key) == known.end())
            throw InputError(source, prefix.empty() ? key : prefix + "." + key,
                             text::unknown_name_message("NEB option", key, known));
}

double number(const nlohmann::json& j, const std::string& key, const std::string& field, const std::string& source) {
    const auto& v = j.at(key);
    if (!v.is_number()) throw InputError(source, field, fmt::format("must be a number, got {}", v.dump()));
    return v.get<double>();
}

int integer(const nlohmann::json& j, const std::string& key, const std::string& field, const std::string& source) {
    const auto& v = j.at(key);
    if (!v.is_number_integer()) throw InputError(source, field, fmt::format("must be an integer, got {}", v.dump()));
    return v.get<int>();
}

}  // namespace

NebOptions neb_options_from_json(const nlohmann::json& j, const std::string& source) {
    check_keys(j, {"spring", "fmax", "climb", "climb_after", "optimizer", "max_iterations", "max_step", "fire", "bfgs",
                   "lbfgs"},
               source, "");
    NebOptions o;
    if (j.contains("spring")) o.spring = number(j, "spring", "spring", source);
    if (j.contains("fmax")) o.fmax = number(j, "fmax", "fmax", source);
    if (j.contains("climb")) {
        if (!j.at("climb").is_boolean())
            throw InputError(source, "climb", fmt::format("must be true or false, got {}", j.at("climb").dump()));
        o.climb = j.at("climb").get<bool>();
    }
    if (j.contains("climb_after")) {
        const auto& v = j.at("climb_after");
        if (v.is_string() && text::to_lower(v.get<std::string>()) == "start") o.climb_after = kClimbFromStart;
        else if (v.is_number()) o.climb_after = v.get<double>();
        else throw InputError(source, "climb_after", fmt::format("must be a force in eV/Å or \"start\", got {}", v.dump()));
    }
    if (j.contains("optimizer")) {
        const auto& v = j.at("optimizer");
        if (!v.is_string()) throw InputError(source, "optimizer", fmt::format("must be a name, got {}", v.dump()));
        o.optimizer = parse_band_optimizer(v.get<std::string>(), source, "optimizer");
    }
    if (j.contains("max_iterations")) o.max_iterations = integer(j, "max_iterations", "max_iterations", source);
    if (j.contains("max_step")) o.max_step = number(j, "max_step", "max_step", source);
    if (j.contains("fire")) {
        const auto& f = j.at("fire");
        check_keys(f, {"dt", "dtmax", "nmin", "finc", "fdec", "astart", "fa"}, source, "fire");
        if (f.contains("dt")) o.fire_dt = number(f, "dt", "fire.dt", source);
        if (f.contains("dtmax")) o.fire_dt_max = number(f, "dtmax", "fire.dtmax", source);
        if (f.contains("nmin")) o.fire_n_min = integer(f, "nmin", "fire.nmin", source);
        if (f.contains("finc")) o.fire_f_inc = number(f, "finc", "fire.finc", source);
        if (f.contains("fdec")) o.fire_f_dec = number(f, "fdec", "fire.fdec", source);
        if (f.contains("astart")) o.fire_alpha_start = number(f, "astart", "fire.astart", source);
        if (f.contains("fa")) o.fire_f_alpha = number(f, "fa", "fire.fa", source);
    }
    if (j.contains("bfgs")) {
        check_keys(j.at("bfgs"), {"alpha"}, source, "bfgs");
        if (j.at("bfgs").contains("alpha")) o.bfgs_alpha = number(j.at("bfgs"), "alpha", "bfgs.alpha", source);
    }
    if (j.contains("lbfgs")) {
        check_keys(j.at("lbfgs"), {"memory"}, source, "lbfgs");
        if (j.at("lbfgs").contains("memory")) o.lbfgs_memory = integer(j.at("lbfgs"), "memory", "lbfgs.memory", source);
    }
    validate_options(o, source);
    return o;
}

nlohmann::json to_json(const NebResult& r) {
    nlohmann::json images = nlohmann::json::array();
    for (const auto& s : r.images) images.push_back(structures::to_json(s));
    return {{"images", images},
            {"energies", r.energies},
            {"reaction_coordinate", r.reaction_coordinate},
            {"image_fmax", r.image_fmax},
            {"fmax", r.fmax},
            {"forward_barrier", r.forward_barrier},
            {"reverse_barrier", r.reverse_barrier},
            {"saddle_index", r.saddle_index},
            {"climbing", r.climbing},
            {"converged", r.converged},
            {"iterations", r.iterations},
            {"force_calls", r.force_calls}};
}

NebResult neb_result_from_json(const nlohmann::json& j, const std::string& source) {
    NebResult r;
    std::string field = "images";
    try {
        if (!j.is_object()) throw InputError(source, "", "an NEB result must be a JSON object");
        const auto& images = j.at("images");
        if (!images.is_array()) throw InputError(source, field, "must be a list of structures");
        for (std::size_t i = 0; i < images.size(); ++i)
            r.images.push_back(structures::structure_from_json(images[i], fmt::format("{}: images[{}]", source, i)));
        for (const char* f : {"energies", "reaction_coordinate", "image_fmax"}) {
            field = f;
            auto v = j.at(field).get<std::vector<double>>();
            if (v.size() != r.images.size())
                throw InputError(source, field, fmt::format("has {} values for {} images", v.size(), r.images.size()));
            if (field == "energies") r.energies = std::move(v);
            else if (field == "reaction_coordinate") r.reaction_coordinate = std::move(v);
            else r.image_fmax = std::move(v);
        }
        field = "fmax";
        r.fmax = j.at(field).get<double>();
        field = "forward_barrier";
        r.forward_barrier = j.at(field).get<double>();
        field = "reverse_barrier";
        r.reverse_barrier = j.at(field).get<double>();
        field = "saddle_index";
        r.saddle_index = j.at(field).get<std::size_t>();
        if (r.saddle_index >= r.images.size())
            throw InputError(source, field, fmt::format("{} is not an image index", r.saddle_index));
        field = "climbing";
        r.climbing = j.at(field).get<bool>();
        field = "converged";
        r.converged = j.at(field).get<bool>();
        field = "iterations";
        r.iterations = j.at(field).get<int>();
        field = "force_calls";
        r.force_calls = j.at(field).get<long>();
    } catch (const nlohmann::json::exception& e) {
        throw InputError(source, field, fmt::format("missing or malformed ({})", e.what()));
    }
    return r;
}

}  // namespace interphase::engine::drivers
