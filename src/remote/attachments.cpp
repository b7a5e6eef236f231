// Descriptors beside messages: duplicated on the way out, owned until closed.
#include "fronta/remote/attachments.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include "fronta/remote/serialization.hpp"

namespace fronta::remote {
namespace {
thread_local attachments* current_attachments = nullptr;
}

attachments::attachments(attachments&& other) noexcept
    : outgoing_(std::move(other.outgoing_)), incoming_(std::move(other.incoming_)),
      index_of_(std::move(other.index_of_)) {
    other.outgoing_.clear();
    other.incoming_.clear();
    other.index_of_.clear();
}

attachments& attachments::operator=(attachments&& other) noexcept {
    if (this != &other) {
        close_all();
        outgoing_ = std::move(other.outgoing_);
        incoming_ = std::move(other.incoming_);
        index_of_ = std::move(other.index_of_);
        other.outgoing_.clear();
        other.incoming_.clear();
        other.index_of_.clear();
    }
    return *this;
}

attachments::~attachments() { close_all(); }

void attachments::close_all() noexcept {
    for (int fd : outgoing_) close(fd);
    for (int fd : incoming_) close(fd);
    outgoing_.clear();
    incoming_.clear();
    index_of_.clear();
}

attachments* attachments::current() noexcept { return current_attachments; }

std::size_t attachments::add(int fd) {
    if (auto found = index_of_.find(fd); found != index_of_.end()) return found->second;
    const int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) throw std::system_error(errno, std::generic_category(), "fronta: cannot attach a shared buffer");
    outgoing_.push_back(copy);
    index_of_.emplace(fd, outgoing_.size() - 1);
    return outgoing_.size() - 1;
}

int attachments::get(std::size_t index) const {
    if (index >= incoming_.size())
        throw deserialization_error("a message refers to shared memory attachment " + std::to_string(index) + " of " +
                                    std::to_string(incoming_.size()));
    return incoming_[index];
}

void attachments::adopt(std::vector<int> fds) {
    for (int fd : fds) incoming_.push_back(fd);
}

attachment_scope::attachment_scope(attachments* a) noexcept : previous_(current_attachments) {
    current_attachments = a;
}
attachment_scope::~attachment_scope() { current_attachments = previous_; }

}  // namespace fronta::remote
