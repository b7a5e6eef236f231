// task_sink's default for remote tasks, out of line so that task.hpp (and with it thread_pool.hpp)
// does not need the remote machinery.
#include <stdexcept>

#include "fronta/detail/task.hpp"
#include "fronta/remote/call.hpp"

namespace fronta::detail {

void task_sink::enqueue_remote(remote::remote_task* t) {
    t->fail(std::make_exception_ptr(std::logic_error("this executor runs tasks in-process only")));
    throw std::logic_error("this executor runs tasks in-process only");
}

}  // namespace fronta::detail
