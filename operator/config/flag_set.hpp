#pragma once

#include <expected>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace elector::config {

// Command-line flags with the conventions of Kubernetes operators
// (kubebuilder, client-go tools): `--name=value`, `--name value`, booleans as
// `--name` or `--name=false`, a single leading dash accepted too, and `--`
// ending the flags. Every flag documents its default in usage().
class flag_set {
public:
    // Parses one value for a flag; returns a message saying why it is invalid.
    using setter = std::function<std::expected<void, std::string>(std::string_view value)>;

    flag_set(std::string program, std::string synopsis);

    void add_bool(std::string name, bool& target, std::string help);
    void add_string(std::string name, std::string& target, std::string help);
    // A flag of any other type: `default_text` is shown by usage().
    void add_value(std::string name, std::string default_text, std::string help, setter set);

    // Parses the arguments after the program name. Returns the positional
    // arguments, or the first error as a message naming the flag.
    [[nodiscard]] std::expected<std::vector<std::string>, std::string>
    parse(std::span<const char* const> args) const;

    [[nodiscard]] std::string usage() const;

private:
    struct flag {
        std::string name;
        std::string default_text;
        std::string help;
        bool is_bool;
        setter set;
    };
    void add(flag f);
    [[nodiscard]] const flag* find(std::string_view name) const;

    std::string program_;
    std::string synopsis_;
    std::vector<flag> flags_;
};

}  // namespace elector::config
