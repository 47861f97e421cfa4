#include "unroll/layers/dropout.hpp"

#include "unroll/framework/detail/check.hpp"

namespace unroll::layers {

Dropout::Dropout(const DropoutOptions& options) : options_(options) {
  detail::check(options.p >= 0 && options.p <= 1, "Dropout: probability {} is outside [0, 1]", options.p);
}

std::string Dropout::describe() const { return fmt::format("Dropout(p={})", options_.p); }

}  // namespace unroll::layers
