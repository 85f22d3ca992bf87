#include "delivery/content.hpp"

namespace ehlo::delivery {
namespace {

class MemoryReader final : public ContentReader {
public:
    MemoryReader(std::shared_ptr<const std::string> owner, std::string_view rest)
        : owner_(std::move(owner)), rest_(rest) {}
    std::error_code next(std::string& piece) override {
        const std::string_view p = rest_.substr(0, kContentPiece);
        piece.assign(p);
        rest_.remove_prefix(p.size());
        return {};
    }

private:
    std::shared_ptr<const std::string> owner_;
    std::string_view rest_;
};

}  // namespace

std::error_code ContentSource::write_to(const ContentSink& sink) const {
    std::error_code ec;
    std::unique_ptr<ContentReader> reader = open(ec);
    if (!reader) return ec ? ec : std::make_error_code(std::errc::io_error);
    std::string piece;
    for (;;) {
        if (auto e = reader->next(piece)) return e;
        if (piece.empty() || !sink(piece)) return {};
    }
}

std::unique_ptr<ContentReader> MemoryContent::open(std::error_code& ec) const {
    ec.clear();
    return std::make_unique<MemoryReader>(owned_, view_);
}

}  // namespace ehlo::delivery
