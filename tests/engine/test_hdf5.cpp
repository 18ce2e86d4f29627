// The HDF5 wrappers: groups, datasets and attributes written and read back with our API and
// with h5py (what users' scripts use), UTF-8 text, errors that name the object, silence on
// stderr, and write_atomically keeping the old file when writing fails.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include "common/errors.hpp"
#include "engine/hdf5.hpp"
#include "test_paths.hpp"

using namespace interphase::engine::h5;
namespace fs = std::filesystem;

using interphase::testing::slurp;

namespace {

const std::vector<double> energies = {-1.5, 0.25, 3.0};
const std::vector<double> positions = {0.0, 0.5, 1.0, 1.5, 2.0, 2.5};  // 2 atoms × xyz, Å
const std::vector<std::int64_t> numbers = {3, -7, 1099511627776};
const std::vector<std::string> species = {"Li", "F", "ΔE in Å", ""};
const std::vector<std::string> labels = {"bulk", "slab(001)", "Å"};

/// The file every read test checks: a tree like a small results.h5.
void fill_example(File& file) {
    file.set_attribute("interphase_version", "0.1.0");
    file.set_attribute("created_unix", std::int64_t{1700000000});
    file.set_attribute("temperature_K", 300.0);
    Group li = file.create_group("bulk/Li");  // the intermediate "bulk" is created too
    li.set_attribute("formula", "Li");
    li.set_attribute("n_atoms", 2);
    li.write_doubles("energies", energies).set_attribute("units", "eV");
    li.write_matrix("positions", positions, 2, 3).set_attribute("units", "Å");
    li.write_int64s("numbers", numbers);
    li.write_strings("species", species);
    li.write_strings("labels", labels, StringLayout::Fixed);
    li.write_scalar("E_total", -3.8106);
    li.write_scalar("formula", "Li₂ (ΔE)");
    Dataset delta = li.write_scalar("ΔE", 0.125);
    delta.set_attribute("units", "eV");
    delta.set_attribute("ΔE_note", "binding energy per Å²");
    li.write_doubles("empty", std::vector<double>{});
    file.create_group("slabs");
}


/// Runs a shell command with fixed text (test-only), returning its stdout and exit status.
std::pair<std::string, int> run(const std::string& command) {
    std::string output;
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::array<char, 4096> buffer{};
    std::size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
    const int status = ::pclose(pipe);
    return {output, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

std::vector<fs::path> leftovers(const fs::path& dir) {
    std::vector<fs::path> temps;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().filename().string().find(".tmp-") != std::string::npos) temps.push_back(entry.path());
    return temps;
}

/// Captures what is written to file descriptor 2 while `body` runs.
template <typename F>
std::string stderr_during(const fs::path& capture, F&& body) {
    std::fflush(stderr);
    const int saved = ::dup(2);
    const int fd = ::open(capture.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    ::close(fd);
    try {
        body();
    } catch (...) {
    }
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    return slurp(capture);
}

}  // namespace

TEST_CASE("Handle closes once and moves ownership") {
    static int closed = 0;
    static Handle::Id last = -1;
    auto fake_close = [](Handle::Id id) -> int {
        ++closed;
        last = id;
        return 0;
    };
    closed = 0;
    {
        Handle a(42, fake_close);
        CHECK(a.valid());
        Handle b(std::move(a));
        CHECK_FALSE(a.valid());
        CHECK(b.id() == 42);
        Handle c;
        CHECK_FALSE(c);
        c = std::move(b);
        CHECK(closed == 0);
    }
    CHECK(closed == 1);
    CHECK(last == 42);

    Handle failing(7, [](Handle::Id) -> int { return -1; });
    CHECK_THROWS_AS(failing.close("a test object"), interphase::StorageError);
    CHECK_FALSE(failing.valid());
}

TEST_CASE("write groups, datasets and attributes, then read them back") {
    auto dir = interphase::testing::scratch("h5-roundtrip");
    const fs::path path = dir / "results.h5";
    {
        File file = File::create(path);
        fill_example(file);
        file.close();
    }
    File file = File::open_read(path);
    CHECK(file.path() == "/");
    CHECK(file.file_name() == path.string());
    CHECK(file.attribute_string("interphase_version") == "0.1.0");
    CHECK(file.attribute_int64("created_unix") == 1700000000);
    CHECK(file.attribute_double("temperature_K") == 300.0);
    CHECK(file.attribute_double("created_unix") == 1.7e9);  // integers read as doubles too
    CHECK_THROWS_AS(file.attribute_int64("temperature_K"), interphase::StorageError);  // no truncation
    CHECK(file.attribute_names() == std::vector<std::string>{"created_unix", "interphase_version", "temperature_K"});
    CHECK(file.has_attribute("temperature_K"));
    CHECK_FALSE(file.has_attribute("pressure"));

    CHECK(file.names() == std::vector<std::string>{"bulk", "slabs"});
    CHECK(file.has("bulk/Li"));
    CHECK(file.has("/bulk/Li/energies"));
    CHECK_FALSE(file.has("bulk/Na"));
    CHECK_FALSE(file.has("nowhere/at/all"));
    CHECK_FALSE(file.has("bulk/Li/energies/x"));  // through a dataset: not there, no error
    CHECK(file.is_group("bulk/Li"));
    CHECK_FALSE(file.is_group("bulk/Li/energies"));
    CHECK(file.is_dataset("bulk/Li/energies"));
    CHECK_FALSE(file.is_dataset("bulk/Li/missing"));

    Group li = file.open_group("bulk/Li");
    CHECK(li.path() == "/bulk/Li");
    CHECK(li.attribute_string("formula") == "Li");
    CHECK(li.attribute_int64("n_atoms") == 2);
    CHECK(li.names() == std::vector<std::string>{"E_total", "empty", "energies", "formula", "labels",
                                                 "numbers", "positions", "species", "ΔE"});

    Dataset e = li.open_dataset("energies");
    CHECK(e.path() == "/bulk/Li/energies");
    CHECK(e.shape() == std::vector<std::size_t>{3});
    CHECK(e.read_doubles() == energies);
    CHECK(e.attribute_string("units") == "eV");
    CHECK_FALSE(e.is_string());

    Matrix m = li.open_dataset("positions").read_matrix();
    CHECK(m.rows == 2);
    CHECK(m.cols == 3);
    CHECK(m.values == positions);
    CHECK(m(1, 0) == 1.5);
    CHECK(li.open_dataset("positions").attribute_string("units") == "Å");

    CHECK(li.open_dataset("numbers").read_int64s() == numbers);
    CHECK(li.open_dataset("numbers").read_doubles() == std::vector<double>{3.0, -7.0, 1099511627776.0});
    CHECK(li.open_dataset("species").is_string());
    CHECK(li.open_dataset("species").read_strings() == species);
    CHECK(li.open_dataset("labels").read_strings() == labels);
    CHECK(li.open_dataset("E_total").shape().empty());
    CHECK(li.open_dataset("E_total").read_scalar_double() == -3.8106);
    CHECK(li.open_dataset("formula").read_scalar_string() == "Li₂ (ΔE)");
    Dataset delta = li.open_dataset("ΔE");
    CHECK(delta.read_scalar_double() == 0.125);
    CHECK(delta.attribute_string("ΔE_note") == "binding energy per Å²");
    CHECK(li.open_dataset("empty").read_doubles().empty());
    CHECK(li.open_dataset("empty").shape() == std::vector<std::size_t>{0});
}

TEST_CASE("attributes are replaced, datasets are not overwritten") {
    auto dir = interphase::testing::scratch("h5-replace");
    File file = File::create(dir / "r.h5");
    file.set_attribute("status", "running");
    file.set_attribute("status", "done");  // replaced, even with another type below
    CHECK(file.attribute_string("status") == "done");
    file.set_attribute("status", 2);
    CHECK(file.attribute_int64("status") == 2);
    CHECK(file.attribute_names().size() == 1);

    file.write_doubles("x", std::vector<double>{1.0});
    CHECK_THROWS_WITH_AS(file.write_doubles("x", std::vector<double>{2.0}), doctest::Contains("already exists"),
                         interphase::StorageError);
    CHECK_THROWS_WITH_AS(file.create_group("x"), doctest::Contains("/x"), interphase::StorageError);
}

TEST_CASE("errors name the file and the object, and HDF5 prints nothing") {
    auto dir = interphase::testing::scratch("h5-errors");
    const fs::path path = dir / "r.h5";
    {
        File file = File::create(path);
        fill_example(file);
    }  // the destructor closes too
    File file = File::open_read(path);

    CHECK_THROWS_WITH_AS(File::open_read(dir / "missing.h5"), doctest::Contains("missing.h5"),
                         interphase::StorageError);
    CHECK_THROWS_WITH_AS(file.open_dataset("bulk/Li/nope"), doctest::Contains("r.h5:/bulk/Li/nope"),
                         interphase::StorageError);
    CHECK_THROWS_WITH_AS(file.open_group("bulk/Na"), doctest::Contains("/bulk/Na"), interphase::StorageError);
    Group li = file.open_group("bulk/Li");
    CHECK_THROWS_WITH_AS(li.open_dataset("energies").read_matrix(), doctest::Contains("has rank 1, expected 2"),
                         interphase::StorageError);
    CHECK_THROWS_WITH_AS(li.open_dataset("energies").read_int64s(), doctest::Contains("/bulk/Li/energies is not an integer"),
                         interphase::StorageError);
    CHECK_THROWS_WITH_AS(li.open_dataset("energies").read_strings(), doctest::Contains("does not hold strings"),
                         interphase::StorageError);
    CHECK_THROWS_WITH_AS(li.open_dataset("energies").read_scalar_double(), doctest::Contains("holds 3 elements"),
                         interphase::StorageError);
    CHECK_THROWS_WITH_AS(li.attribute_string("missing"), doctest::Contains("attribute 'missing' of"),
                         interphase::StorageError);
    // Writing to a file opened read-only fails with HDF5's reason.
    CHECK_THROWS_WITH_AS(li.write_scalar("new", 1.0), doctest::Contains("/bulk/Li/new"), interphase::StorageError);

    File writable = File::create(dir / "w.h5");
    CHECK_THROWS_WITH_AS(writable.write_matrix("bad", positions, 4, 2), doctest::Contains("6 values given for a 4×2 matrix"),
                         interphase::StorageError);

    const std::string printed = stderr_during(dir / "stderr.txt", [&] {
        (void)File::open_read(dir / "missing.h5");
    });
    CHECK(printed.empty());
}

TEST_CASE("h5py reads what we write") {
    if (run("/usr/bin/python3 -c 'import h5py' 2>/dev/null").second != 0) {
        MESSAGE("python3-h5py is not installed: skipping the h5py cross-check");
        return;
    }
    auto dir = interphase::testing::scratch("h5-h5py");
    const fs::path path = dir / "results.h5";
    {
        File file = File::create(path);
        fill_example(file);
        file.close();
    }
    {
        std::ofstream script(dir / "read.py");
        script << R"(import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    print(f.attrs["interphase_version"])
    print(int(f.attrs["created_unix"]), f.attrs["created_unix"].dtype)
    print(float(f.attrs["temperature_K"]))
    print(sorted(f.keys()))
    g = f["bulk/Li"]
    print(g.attrs["formula"], int(g.attrs["n_atoms"]))
    print(g["energies"][:].tolist(), g["energies"].dtype, g["energies"].attrs["units"])
    print(g["positions"].shape, g["positions"][:].tolist(), g["positions"].attrs["units"])
    print(g["numbers"][:].tolist(), g["numbers"].dtype)
    print(list(g["species"].asstr()[:]))
    print([s.decode("utf-8") for s in g["labels"][:]])
    print(float(g["E_total"][()]))
    print(g["formula"].asstr()[()])
    print(float(g["ΔE"][()]), g["ΔE"].attrs["ΔE_note"])
    print(g["empty"].shape)
)";
    }
    const auto [output, status] =
        run("PYTHONIOENCODING=utf-8 /usr/bin/python3 '" + (dir / "read.py").string() + "' '" + path.string() + "' 2>&1");
    REQUIRE_MESSAGE(status == 0, output);
    const std::string expected =
        "0.1.0\n"
        "1700000000 int64\n"
        "300.0\n"
        "['bulk', 'slabs']\n"
        "Li 2\n"
        "[-1.5, 0.25, 3.0] float64 eV\n"
        "(2, 3) [[0.0, 0.5, 1.0], [1.5, 2.0, 2.5]] Å\n"
        "[3, -7, 1099511627776] int64\n"
        "['Li', 'F', 'ΔE in Å', '']\n"
        "['bulk', 'slab(001)', 'Å']\n"
        "-3.8106\n"
        "Li₂ (ΔE)\n"
        "0.125 binding energy per Å²\n"
        "(0,)\n";
    CHECK(output == expected);
}

TEST_CASE("write_atomically replaces the file whole or not at all") {
    auto dir = interphase::testing::scratch("h5-atomic");
    const fs::path target = dir / "results.h5";

    write_atomically(target, [](File& f) { f.set_attribute("generation", 1); });
    CHECK(File::open_read(target).attribute_int64("generation") == 1);
    CHECK(leftovers(dir).empty());

    SUBCASE("fill throws: the old file stays and the temporary goes") {
        CHECK_THROWS_WITH_AS(write_atomically(target,
                                              [](File& f) {
                                                  f.set_attribute("generation", 2);
                                                  Group g = f.create_group("half");
                                                  g.write_doubles("x", std::vector<double>{1, 2, 3});
                                                  throw std::runtime_error("task crashed mid-write");
                                              }),
                             "task crashed mid-write", std::runtime_error);
        File old = File::open_read(target);
        CHECK(old.attribute_int64("generation") == 1);
        CHECK_FALSE(old.has("half"));
        CHECK(leftovers(dir).empty());
    }
    SUBCASE("an object left open would leave the file unflushed: refused") {
        std::optional<Group> leaked;
        CHECK_THROWS_WITH_AS(write_atomically(target,
                                              [&](File& f) {
                                                  f.set_attribute("generation", 2);
                                                  leaked.emplace(f.create_group("kept-open"));
                                              }),
                             doctest::Contains("still open"), interphase::StorageError);
        leaked.reset();
        CHECK(File::open_read(target).attribute_int64("generation") == 1);
        CHECK(leftovers(dir).empty());
    }
    SUBCASE("success replaces the file") {
        write_atomically(target, [](File& f) {
            f.set_attribute("generation", 2);
            f.create_group("complete").write_scalar("ΔE", -0.5);
        });
        File now = File::open_read(target);
        CHECK(now.attribute_int64("generation") == 2);
        CHECK(now.open_group("complete").open_dataset("ΔE").read_scalar_double() == -0.5);
        CHECK(leftovers(dir).empty());
    }
    SUBCASE("a folder that does not exist is a StorageError, with nothing left behind") {
        CHECK_THROWS_WITH_AS(write_atomically(dir / "no-such-folder" / "results.h5", [](File&) {}),
                             doctest::Contains("no-such-folder"), interphase::StorageError);
        CHECK(leftovers(dir).empty());
    }
}
