// Where exceptions thrown by done callbacks go: a user-settable handler, stderr by default.
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <typeinfo>

#include "fronta/future.hpp"

namespace fronta {
namespace {
std::mutex handler_mutex;
std::function<void(std::exception_ptr)>& handler() {
    static std::function<void(std::exception_ptr)> h;
    return h;
}
}  // namespace

void set_callback_error_handler(std::function<void(std::exception_ptr)> new_handler) {
    std::lock_guard lock(handler_mutex);
    handler() = std::move(new_handler);
}

namespace detail {
void report_callback_exception(std::exception_ptr error) noexcept {
    std::function<void(std::exception_ptr)> h;
    {
        std::lock_guard lock(handler_mutex);
        h = handler();
    }
    try {
        if (h) {
            h(error);
            return;
        }
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fronta: a done callback threw %s: %s\n", typeid(e).name(), e.what());
    } catch (...) {
        std::fprintf(stderr, "fronta: a done callback threw a non-std exception (or the handler did)\n");
    }
}
}  // namespace detail
}  // namespace fronta
