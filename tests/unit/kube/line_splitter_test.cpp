#include "kube/line_splitter.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace elector::kube {
namespace {

std::vector<std::string> split_in_chunks(const std::string& stream, std::size_t chunk, line_splitter& s) {
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
        EXPECT_TRUE(s.feed(std::string_view(stream).substr(i, chunk), [&](std::string_view l) {
            lines.emplace_back(l);
            return true;
        }));
    }
    return lines;
}

TEST(line_splitter, frames_lines_across_every_chunk_boundary) {
    const std::string stream = "{\"type\":\"ADDED\"}\n{\"type\":\"MODIFIED\",\"x\":\"\xc3\xa9\"}\r\n\n{\"type\":\"DELETED\"}\n";
    for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
        line_splitter s;
        auto lines = split_in_chunks(stream, chunk, s);
        ASSERT_EQ(lines.size(), 3u) << "chunk " << chunk;
        EXPECT_EQ(lines[0], "{\"type\":\"ADDED\"}");
        EXPECT_EQ(lines[1], "{\"type\":\"MODIFIED\",\"x\":\"\xc3\xa9\"}");
        EXPECT_EQ(lines[2], "{\"type\":\"DELETED\"}");
        EXPECT_TRUE(s.pending().empty());
    }
}

TEST(line_splitter, an_unterminated_last_line_stays_pending) {
    line_splitter s;
    auto lines = split_in_chunks("{\"a\":1}\n{\"b\":", 4, s);
    EXPECT_EQ(lines.size(), 1u);
    EXPECT_EQ(s.pending(), "{\"b\":");
}

TEST(line_splitter, a_line_over_the_limit_is_refused) {
    line_splitter s(8);
    EXPECT_TRUE(s.feed("1234", [](std::string_view) { return true; }));
    EXPECT_FALSE(s.feed("56789", [](std::string_view) { return true; }));
    EXPECT_TRUE(s.overflowed());
    line_splitter one_chunk(8);
    EXPECT_FALSE(one_chunk.feed("123456789\n", [](std::string_view) { return true; }));
}

TEST(line_splitter, the_consumer_can_stop_the_stream) {
    line_splitter s;
    int seen = 0;
    EXPECT_FALSE(s.feed("a\nb\nc\n", [&](std::string_view) { return ++seen < 2; }));
    EXPECT_EQ(seen, 2);
}

}  // namespace
}  // namespace elector::kube
