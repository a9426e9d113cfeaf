// The text protocol behind the protocol seam (its codec is in text_adapter.h).
#include "engine/text_adapter.h"

namespace mmc::engine {

namespace {

constexpr ProtocolAdapter kText = make_adapter<detail::TextCodec>();

}  // namespace

const ProtocolAdapter& text_adapter() noexcept { return kText; }

}  // namespace mmc::engine
