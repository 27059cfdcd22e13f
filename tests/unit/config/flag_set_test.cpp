#include "config/flag_set.hpp"

#include <gtest/gtest.h>

#include <array>

namespace elector::config {
namespace {

struct parsed_flags {
    bool verbose = false;
    std::string name = "default-name";
    int port = 8080;
    flag_set flags{"prog", "Test program."};

    parsed_flags() {
        flags.add_bool("verbose", verbose, "Talk more.");
        flags.add_string("name", name, "A name.");
        flags.add_value("port", "8080", "A port.", [this](std::string_view v) -> std::expected<void, std::string> {
            try {
                std::size_t used = 0;
                int p = std::stoi(std::string(v), &used);
                if (used != v.size() || p < 1 || p > 65535) throw std::out_of_range("port");
                port = p;
                return {};
            } catch (const std::exception&) {
                return std::unexpected(std::string("want a port number from 1 to 65535"));
            }
        });
    }

    template <std::size_t N>
    auto parse(const std::array<const char*, N>& args) {
        return flags.parse(std::span<const char* const>(args.data(), args.size()));
    }
};

TEST(flag_set, defaults_stay_when_no_flags_given) {
    parsed_flags p;
    auto r = p.parse(std::array<const char*, 0>{});
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->empty());
    EXPECT_FALSE(p.verbose);
    EXPECT_EQ(p.name, "default-name");
    EXPECT_EQ(p.port, 8080);
}

TEST(flag_set, accepts_equals_and_separate_value_forms) {
    parsed_flags p;
    auto r = p.parse(std::array{"--name=alpha", "--port", "9443", "-verbose"});
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(p.name, "alpha");
    EXPECT_EQ(p.port, 9443);
    EXPECT_TRUE(p.verbose);
}

TEST(flag_set, bool_takes_explicit_false_and_rejects_garbage) {
    parsed_flags p;
    p.verbose = true;
    ASSERT_TRUE(p.parse(std::array{"--verbose=false"}).has_value());
    EXPECT_FALSE(p.verbose);
    auto bad = p.parse(std::array{"--verbose=maybe"});
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error(), "invalid value \"maybe\" for --verbose: want true or false");
}

TEST(flag_set, empty_value_after_equals_is_a_value) {
    parsed_flags p;
    ASSERT_TRUE(p.parse(std::array{"--name="}).has_value());
    EXPECT_EQ(p.name, "");
}

TEST(flag_set, unknown_flag_is_named_in_the_error) {
    parsed_flags p;
    auto r = p.parse(std::array{"--nmae=x"});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "unknown flag --nmae (see --help)");
}

TEST(flag_set, missing_value_is_an_error) {
    parsed_flags p;
    auto r = p.parse(std::array{"--name"});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "flag --name needs a value");
}

TEST(flag_set, typed_setter_error_is_reported_with_the_value) {
    parsed_flags p;
    auto r = p.parse(std::array{"--port=70000"});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "invalid value \"70000\" for --port: want a port number from 1 to 65535");
    EXPECT_EQ(p.port, 8080);
}

TEST(flag_set, positionals_and_double_dash) {
    parsed_flags p;
    auto r = p.parse(std::array{"one", "--verbose", "--", "--name=not-a-flag", "-"});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, (std::vector<std::string>{"one", "--name=not-a-flag", "-"}));
    EXPECT_EQ(p.name, "default-name");
}

TEST(flag_set, usage_lists_every_flag_with_its_default) {
    parsed_flags p;
    const std::string u = p.flags.usage();
    EXPECT_NE(u.find("Usage: prog [flags]"), std::string::npos);
    EXPECT_NE(u.find("  --verbose\n        Talk more.\n"), std::string::npos) << u;
    EXPECT_NE(u.find("  --name value\n        A name. (default \"default-name\")"), std::string::npos) << u;
    EXPECT_NE(u.find("  --port value\n        A port. (default 8080)"), std::string::npos) << u;
}

TEST(flag_set, defining_a_flag_twice_is_a_programming_error) {
    bool b = false;
    flag_set f("p", "s");
    f.add_bool("x", b, "h");
    EXPECT_THROW(f.add_bool("x", b, "h"), std::logic_error);
}

}  // namespace
}  // namespace elector::config
