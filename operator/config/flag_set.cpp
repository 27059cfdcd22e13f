#include "config/flag_set.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace elector::config {

namespace {

std::expected<bool, std::string> parse_bool(std::string_view v) {
    if (v == "true" || v == "1" || v == "t" || v == "True" || v == "TRUE") return true;
    if (v == "false" || v == "0" || v == "f" || v == "False" || v == "FALSE") return false;
    return std::unexpected(std::string{"want true or false"});
}

}  // namespace

flag_set::flag_set(std::string program, std::string synopsis)
    : program_(std::move(program)), synopsis_(std::move(synopsis)) {}

void flag_set::add(flag f) {
    if (find(f.name) != nullptr) throw std::logic_error("flag --" + f.name + " defined twice");
    flags_.push_back(std::move(f));
}

void flag_set::add_bool(std::string name, bool& target, std::string help) {
    // Like Go's flag package, a false default goes without saying.
    add({std::move(name), target ? "true" : "", std::move(help), true,
         [&target](std::string_view v) -> std::expected<void, std::string> {
             auto b = parse_bool(v);
             if (!b) return std::unexpected(b.error());
             target = *b;
             return {};
         }});
}

void flag_set::add_string(std::string name, std::string& target, std::string help) {
    add({std::move(name), target.empty() ? "" : fmt::format("\"{}\"", target), std::move(help), false,
         [&target](std::string_view v) -> std::expected<void, std::string> {
             target = v;
             return {};
         }});
}

void flag_set::add_value(std::string name, std::string default_text, std::string help, setter set) {
    add({std::move(name), std::move(default_text), std::move(help), false, std::move(set)});
}

const flag_set::flag* flag_set::find(std::string_view name) const {
    auto it = std::ranges::find(flags_, name, &flag::name);
    return it == flags_.end() ? nullptr : &*it;
}

std::expected<std::vector<std::string>, std::string>
flag_set::parse(std::span<const char* const> args) const {
    std::vector<std::string> positional;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--") {
            positional.insert(positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
            break;
        }
        if (arg.size() < 2 || arg[0] != '-') {
            positional.emplace_back(arg);
            continue;
        }
        arg.remove_prefix(arg.starts_with("--") ? 2 : 1);
        std::string_view name = arg;
        std::optional<std::string_view> value;
        if (auto eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        }
        const flag* f = find(name);
        if (f == nullptr) return std::unexpected(fmt::format("unknown flag --{} (see --help)", name));
        if (!value) {
            if (f->is_bool) {
                value = "true";
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                return std::unexpected(fmt::format("flag --{} needs a value", name));
            }
        }
        if (auto ok = f->set(*value); !ok) {
            return std::unexpected(fmt::format("invalid value \"{}\" for --{}: {}", *value, name, ok.error()));
        }
    }
    return positional;
}

std::string flag_set::usage() const {
    std::string out = fmt::format("Usage: {} [flags]\n\n{}\n\nFlags:\n", program_, synopsis_);
    for (const auto& f : flags_) {
        out += fmt::format("  --{}{}\n", f.name, f.is_bool ? "" : " value");
        out += fmt::format("        {}", f.help);
        if (!f.default_text.empty()) out += fmt::format(" (default {})", f.default_text);
        out += '\n';
    }
    return out;
}

}  // namespace elector::config
