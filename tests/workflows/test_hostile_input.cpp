// Hostile and unlucky workflow files (issue 10): everything knowable before a run is refused
// before it, in one line naming the file, the line and the field — alias bombs, duplicate and
// non-scalar keys, names that would collide on disk or in results.h5, bytes that are not UTF-8,
// control characters — and task folders are injective, whatever the names.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <set>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "cluster/profile.hpp"
#include "common/yaml_reader.hpp"
#include "workflows/results.hpp"
#include "engine/runner.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"

using namespace interphase;
using namespace interphase::engine;
using namespace interphase::workflows;

namespace {

std::string workflow(const std::string& name_line, const std::string& host_a, const std::string& extra = "") {
    return fmt::format(R"({}
calculator: {{code: emt}}
protocol: fast
adsorbate: Cu
hosts:
  - {{name: "{}", phase: Al, miller: [1, 1, 1], layers: 3}}
  - {{name: B, phase: Ni, miller: [1, 1, 1], layers: 3}}
{})",
                       name_line, host_a, extra);
}

// The loader's message, or "" if the text loads. Anything but an interphase::Error escapes and
// fails the test (that was exit 70 from the CLI).
std::string error_of(const std::string& yaml) {
    try {
        parse_workflow(yaml, "wf.yaml");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// A "billion laughs": `levels` levels of 9 aliases each as mapping entries indented by `indent`
// (about 1 KB of text; the last level expands to 9^levels nodes).
std::string alias_bomb(const std::string& indent, int levels = 9) {
    std::string s = indent + "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < levels; ++i)
        s += fmt::format("{}a{}: &a{} [*a{}, *a{}, *a{}, *a{}, *a{}, *a{}, *a{}, *a{}, *a{}]\n", indent, i, i, i - 1, i - 1,
                         i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    return s;
}

}  // namespace

TEST_CASE("alias bombs under calculator, protocol and hop options are refused, naming the file") {
    // The bomb's top level would expand to 9^9 ≈ 387 million nodes.
    const std::string calc_bomb = "name: bomb\ncalculator:\n  code: emt\n" + alias_bomb("  ");
    std::string protocol_bomb = workflow("name: bomb", "A");
    protocol_bomb.replace(protocol_bomb.find("protocol: fast\n"), 15, "protocol:\n  name: fast\n" + alias_bomb("  "));
    const std::string hop_bomb = workflow("name: bomb", "A") +
                                 "hops:\n  - host: A\n    from: fcc_hollow\n    to: hcp_hollow\n    fire:\n" +
                                 alias_bomb("      ");
    for (const auto& yaml : {calc_bomb, protocol_bomb, hop_bomb}) {
        CAPTURE(yaml.size());
        CHECK(yaml.size() < 2000);
        const auto msg = error_of(yaml);
        CHECK(msg.rfind("wf.yaml", 0) == 0);
        CHECK(msg.find("YAML nodes") != std::string::npos);
    }
}

TEST_CASE("YAML limits: size, duplicate keys, non-scalar keys, deep nesting") {
    CHECK(error_of(std::string(5u << 20, '#')).find("limited to 4 MiB") != std::string::npos);
    const auto dup = error_of(workflow("name: a\nname: b", "A"));
    CHECK(dup.find("wf.yaml:2") == 0);
    CHECK(dup.find("given twice") != std::string::npos);
    CHECK(dup.find("line 1") != std::string::npos);
    // A duplicated key deep inside the calculator's settings, too.
    CHECK(error_of("calculator:\n  code: emt\n  code: cp2k\nhosts: []\n").find("given twice") != std::string::npos);
    for (const char* bad : {"? [a, b]\n: 1\n", "calculator: {code: emt, ? {x: 1} : 2}\n", "? {a: 1}\n: x\n"}) {
        CAPTURE(bad);
        const auto msg = error_of(bad);
        CHECK(msg.find("plain name") != std::string::npos);
    }
    // 10,000 nested lists: yaml-cpp's own depth guard, reported as a parse error.
    CHECK(error_of("x: " + std::string(10000, '[') + std::string(10000, ']')).find("wf.yaml") == 0);
}

TEST_CASE("names: UTF-8, no control characters, bounded, not reserved, not '.' or '..'") {
    struct Case {
        std::string name_line, host, field, words;
    };
    const std::vector<Case> cases{
        {"name: \"..\"", "A", "name", "must not be '.', '..'"},
        {"name: .", "A", "name", "must not be '.', '..'"},
        {"name: \"a\\nb\"", "A", "name", "control character"},
        {"name: \"run\\u0085x\"", "A", "name", "control character"},  // C1 NEXT LINE
        {"name: " + std::string(101, 'x'), "A", "name", "101 bytes"},
        {"name: " + std::string(300, 'y'), "A", "name", "300 bytes"},
        {"name: ok", "bad\\u0007bell", "hosts[0].name", "control character"},
        {"name: ok", std::string(101, 'h'), "hosts[0].name", "at most 100"},
        {"name: ok", "a/b", "hosts[0].name", "must not contain"},
        {"name: ok", "a\\\\b", "hosts[0].name", "must not contain"},
        {"name: ok", " padded", "hosts[0].name", "blank"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name_line);
        CAPTURE(c.host);
        const auto msg = error_of(workflow(c.name_line, c.host));
        CHECK(msg.find("field '" + c.field + "'") != std::string::npos);
        CHECK(msg.find(c.words) != std::string::npos);
        CHECK(msg.find('\n') == std::string::npos);  // one line, whatever the name held
    }
    // A raw 0xFF byte (invalid UTF-8) in a host name and in a description.
    CHECK(error_of(workflow("name: ok", "A\xff")).find("not valid UTF-8") != std::string::npos);
    CHECK(error_of(workflow("name: ok\ndescription: \"caf\xe9\"", "A")).find("not valid UTF-8") != std::string::npos);
    CHECK(error_of(workflow("name: ok", "A") + "pairs: [[A, B]]\n").empty());
    // Hosts are HDF5 groups beside the datasets of /binding_energy and /neb.
    for (const char* reserved : {"host", "binding_energy", "best_site", "reference", ".", "..", "hop", "band"}) {
        CAPTURE(reserved);
        const auto msg = error_of(workflow("name: ok", reserved));
        CHECK(msg.find("hosts[0].name") != std::string::npos);
    }
    // Names with non-ASCII letters are fine (α-Al(111), Greek phases are common).
    CHECK(error_of(workflow("name: Å-screening", "α-Al(111)")).empty());
}

TEST_CASE("a pair given twice (either order) is refused with its line and field") {
    const auto twice = error_of(workflow("name: ok", "A") + "pairs:\n  - [A, B]\n  - [A, B]\n");
    CHECK(twice.find("wf.yaml:10") == 0);
    CHECK(twice.find("field 'pairs[1]'") != std::string::npos);
    CHECK(twice.find("already pairs[0]") != std::string::npos);
    CHECK(error_of(workflow("name: ok", "A") + "pairs:\n  - [A, B]\n  - [B, A]\n").find("already pairs[0]") !=
          std::string::npos);
}

TEST_CASE("protocol and calculator values of the wrong type are input errors, not internal errors") {
    CHECK(error_of(workflow("name: ok", "A") + "protocol: {name: 5}\n").find("given twice") != std::string::npos);
    const std::string base = "name: ok\ncalculator: {code: emt}\nadsorbate: Cu\nhosts: [{name: A, phase: Al}]\n";
    for (const char* p : {"protocol: {name: 5}\n", "protocol: {name: [a]}\n", "protocol: {fmax: abc}\n",
                          "protocol: {max_scf: {a: 1}}\n", "protocol: [fast]\n"}) {
        CAPTURE(p);
        const auto msg = error_of(base + p);
        CHECK(msg.find("protocol") != std::string::npos);
        CHECK(msg.rfind("wf.yaml", 0) == 0);
    }
}

TEST_CASE("task folders are injective: names that differ never share a folder") {
    const std::vector<std::string> names{"α-M(100)/slab/relax", "γ-M(100)/slab/relax", "A B/slab/relax",
                                         "A_B/slab/relax",      "A.B/slab",            "A/B/slab",
                                         std::string(300, 'x'), std::string(300, 'x') + "y",
                                         "..",                  ".",                   "a\nb",
                                         "a$(touch PWNED)b",    "a'b"};
    std::set<std::string> folders;
    for (const auto& n : names) {
        const auto f = task_folder_name(n);
        CAPTURE(n);
        CAPTURE(f);
        CHECK(folders.insert(f).second);
        CHECK(f.size() <= 80 + 1 + 12);
        CHECK(f != ".");
        CHECK(f != "..");
        for (char c : f) CHECK((std::isalnum(static_cast<unsigned char>(c)) || std::string("()+-_.").find(c) != std::string::npos));
        CHECK(task_folder_name(n) == f);  // a resumed run finds the same folder
    }
    // Still readable: the task's own name leads.
    CHECK(task_folder_name("Al(111)/slab/relax").rfind("Al(111).slab.relax_", 0) == 0);
}

TEST_CASE("printable() escapes what a terminal would act on; name_problem() says why") {
    CHECK(text::printable("a\nb\tc\x1b[31m") == "a\\nb\\tc\\x1b[31m");
    CHECK(text::printable("ok \xce\xb1") == "ok \xce\xb1");        // α stays α
    CHECK(text::printable("bad \xff\xfe") == "bad \\xff\\xfe");     // invalid UTF-8
    CHECK(text::printable("\xc2\x85") == "\\xc2\\x85");             // C1 NEXT LINE
    CHECK(text::printable("\xed\xa0\x80") == "\\xed\\xa0\\x80");    // a UTF-16 surrogate
    CHECK(text::printable("\xc0\xaf") == "\\xc0\\xaf");             // overlong '/'
    CHECK(!text::name_problem("Li2S(111)", 100));
    CHECK(text::name_problem("", 100));
    CHECK(text::name_problem("x\x7f", 100));
}

TEST_CASE("tables escape control characters; CSV text fields cannot start a spreadsheet formula") {
    RunResults r;
    r.workflow = "w";
    r.calculator = "emt";
    r.protocol = R"({"name": "fast"})";
    HostResult h;
    h.host = "=HYPERLINK(\"http://x\")";
    h.adsorbate = "Cu";
    h.reference = "isolated_atom";
    h.best_site = "top";
    h.sites.push_back({"top", -1.0, -2.5});
    r.hosts.push_back(h);
    HostResult g = h;
    g.host = "evil\x1b[2Jhost";
    r.hosts.push_back(g);
    PairResult p;
    p.a = "+cmd";
    p.b = "@SUM(1)";
    p.reference = "isolated_atom";
    p.delta_e = -0.5;  // a negative number stays a number
    r.pairs.push_back(p);
    const auto csv = format_csv(r);
    CHECK(csv.find("\"'=HYPERLINK(\"\"http://x\"\")\"") != std::string::npos);
    CHECK(csv.find("\"'+cmd\"") != std::string::npos);
    CHECK(csv.find("\"'@SUM(1)\"") != std::string::npos);
    CHECK(csv.find(",-0.500000,") != std::string::npos);
    CHECK(csv.find('\x1b') == std::string::npos);
    const auto table = format_table(r);
    CHECK(table.find('\x1b') == std::string::npos);
    CHECK(table.find("evil\\x1b[2Jhost") != std::string::npos);
}

TEST_CASE("printable() is idempotent: an escaped name quoted in an escaped message stays readable") {
    const std::string once = text::printable("a\xff\n");
    CHECK(once == "a\\xff\\n");
    CHECK(text::printable(once) == once);
}

TEST_CASE("cluster profiles are read by the same bounded loader") {
    auto error = [](const std::string& yaml) -> std::string {
        try {
            cluster::parse_cluster_profile(yaml, "p.yaml");
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    };
    std::string bomb = "scheduler: slurm\nsbatch_options:\n";
    bomb += "  - &a0 [x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 9; ++i)
        bomb += fmt::format("  - &a{} [*a{}, *a{}, *a{}, *a{}, *a{}, *a{}, *a{}, *a{}, *a{}]\n", i, i - 1, i - 1, i - 1,
                            i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
    CHECK(error(bomb).find("YAML nodes") != std::string::npos);
    CHECK(error("scheduler: slurm\npartition: a\npartition: b\n").find("p.yaml:3") == 0);
}
