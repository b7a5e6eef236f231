// inline_executor: the task runs inside enqueue, on the caller's thread.
#include "fronta/inline_executor.hpp"

#include <atomic>

namespace fronta {
namespace {

class inline_sink final : public detail::task_sink {
public:
    void enqueue(detail::task* t) override {
        t->traced.pool = trace_id_;
        if (stopped_.load(std::memory_order_acquire)) {
            t->cancel();
            throw shutdown_error("inline_executor: submit after shutdown()");
        }
        t->execute();
    }
    void shutdown(bool, bool) override { stopped_.store(true, std::memory_order_release); }
    std::size_t concurrency() const noexcept override { return 1; }

private:
    const std::uint32_t trace_id_ = detail::trace_register_pool("inline_executor", 1, "{}");
    std::atomic<bool> stopped_{false};
};

}  // namespace

inline_executor::inline_executor() : executor_base(std::make_shared<inline_sink>()) {}

inline_executor::~inline_executor() {
    if (sink_) sink_->shutdown_all(true, false);
}

}  // namespace fronta
