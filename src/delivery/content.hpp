// The content of a message as the queue holds it: CRLF line endings, no dot-stuffing, given
// in pieces so that a large message never has to sit in memory whole.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <system_error>

namespace ehlo::delivery {

// Receives consecutive pieces of content; returns false to stop early (e.g. a write failed).
using ContentSink = std::function<bool(std::string_view piece)>;

class ContentSource {
public:
    virtual ~ContentSource() = default;
    // Gives the whole content to `sink`, in order. An error means the content could not be
    // read; a sink that stopped early is not an error of the source.
    virtual std::error_code write_to(const ContentSink& sink) const = 0;
};

// Content held in memory (small messages, delivered straight after their commit).
class MemoryContent final : public ContentSource {
public:
    explicit MemoryContent(std::string_view content) : content_(content) {}
    std::error_code write_to(const ContentSink& sink) const override {
        sink(content_);
        return {};
    }

private:
    std::string_view content_;
};

}  // namespace ehlo::delivery
