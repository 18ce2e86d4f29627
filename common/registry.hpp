// Registry<Info>: the one name -> metadata table behind every extension point (calculators,
// potentials, executors, file formats, task kinds, workflow kinds). An Info is a plain struct
// with a `std::string name` and whatever the extension carries (a description, a factory,
// capabilities...). Each registry fills itself with one line per entry in one place (its
// registry.cpp), so the linker never drops a registration and the list reads as documentation.
//
// Names are unique: a second entry with a taken name is a programming error (Error at start-up,
// found by every test). Looking up an unknown name is a user error: InputError naming the
// source and field, with "did you mean" and the known names.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/errors.hpp"
#include "common/text.hpp"

namespace interphase {

template <class Info>
class Registry {
public:
    /// `what` names an entry in messages: "calculator", "task kind", "workflow".
    explicit Registry(std::string what) : what_(std::move(what)) {}

    /// Adds an entry; throws Error when the name is empty or already registered.
    void add(Info info) {
        if (info.name.empty()) throw Error("a " + what_ + " needs a name to be registered");
        if (find(info.name)) throw Error(what_ + " '" + info.name + "' is registered twice");
        entries_.push_back(std::move(info));
    }
    /// The entry, or nullptr.
    const Info* find(const std::string& name) const {
        for (const auto& e : entries_)
            if (e.name == name) return &e;
        return nullptr;
    }
    bool contains(const std::string& name) const { return find(name) != nullptr; }
    /// The entry; throws InputError(source, field, "unknown <what> 'x'; did you mean ...").
    const Info& at(const std::string& name, const std::string& source, const std::string& field) const {
        if (const Info* e = find(name)) return *e;
        throw InputError(source, field, text::unknown_name_message(what_, name, names()));
    }
    /// Names in registration order.
    std::vector<std::string> names() const {
        std::vector<std::string> n;
        n.reserve(entries_.size());
        for (const auto& e : entries_) n.push_back(e.name);
        return n;
    }
    const std::vector<Info>& entries() const noexcept { return entries_; }
    const std::string& what() const noexcept { return what_; }

private:
    std::string what_;
    std::vector<Info> entries_;
};

}  // namespace interphase
