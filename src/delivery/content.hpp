// The content of a message as the queue holds it: CRLF line endings, no dot-stuffing, given
// in pieces so that a large message never has to sit in memory whole.
//
// Two ways to read it: write_to() pushes every piece to a sink at once (Maildir delivery, on
// the delivery thread), open() gives a reader that yields one piece per call, so that onward
// delivery can read the next piece only when the socket has taken the last one.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace ehlo::delivery {

// Receives consecutive pieces of content; returns false to stop early (e.g. a write failed).
using ContentSink = std::function<bool(std::string_view piece)>;

// Pieces of content read from memory are at most this large, as those of the spool are (its
// content records): a reader holds about this much at a time.
inline constexpr std::size_t kContentPiece = 256 * 1024;

class ContentReader {
public:
    virtual ~ContentReader() = default;
    // The next piece into `piece` (replacing what it held); an empty piece at the end. After an
    // error the content is incomplete: whoever sends it must not end the message normally.
    virtual std::error_code next(std::string& piece) = 0;
};

class ContentSource {
public:
    virtual ~ContentSource() = default;
    // A reader from the first octet. Empty, with `ec` set, when the content cannot be read.
    virtual std::unique_ptr<ContentReader> open(std::error_code& ec) const = 0;
    // Gives the whole content to `sink`, in order. An error means the content could not be
    // read; a sink that stopped early is not an error of the source.
    virtual std::error_code write_to(const ContentSink& sink) const;
};

// Content held in memory: a small message delivered straight after its commit, a DSN, a test.
class MemoryContent final : public ContentSource {
public:
    // Refers to `content`, which must outlive this object and its readers.
    explicit MemoryContent(std::string_view content) : view_(content) {}
    // Keeps `content` alive as long as this object or a reader of it exists.
    explicit MemoryContent(std::shared_ptr<const std::string> content)
        : owned_(std::move(content)), view_(owned_ ? std::string_view(*owned_) : std::string_view{}) {}

    std::unique_ptr<ContentReader> open(std::error_code& ec) const override;
    std::error_code write_to(const ContentSink& sink) const override {
        sink(view_);
        return {};
    }
    std::size_t size() const { return view_.size(); }

private:
    std::shared_ptr<const std::string> owned_;
    std::string_view view_;
};

}  // namespace ehlo::delivery
