#pragma once
// (interim: replaced by the remote sink of the api9 branch at merge)
#include <stdexcept>

#include "fronta/detail/task.hpp"

namespace fronta::detail {

class remote_sink : public task_sink {
public:
    bool is_remote() const noexcept override { return true; }
    void enqueue(task* t) override {
        t->fail(std::make_exception_ptr(std::logic_error("a remote pool runs remote tasks only")));
        throw std::logic_error("a remote pool runs remote tasks only");
    }
};

}  // namespace fronta::detail
