#pragma once
/// @file inline_executor.hpp
/// @brief `fronta::inline_executor`: runs each task inside `submit`, on the calling thread.
///
/// For debugging and tests: same interface, no threads, deterministic order, and a debugger
/// stops in your function with the caller's stack. `map` stays lazy: a chunk runs when the window
/// asks for it.
/// @code
/// fronta::inline_executor ex;
/// auto f = ex.submit(do_some_math, 5.0);  // already done here
/// @endcode

#include "fronta/detail/executor_base.hpp"

namespace fronta {

class inline_executor : public detail::executor_base {
public:
    inline_executor();
    inline_executor(inline_executor&&) noexcept = default;
    inline_executor& operator=(inline_executor&&) noexcept = default;
    ~inline_executor();
};

}  // namespace fronta
