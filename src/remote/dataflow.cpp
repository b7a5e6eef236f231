// Dataflow on a remote pool: what a producer does with the consumers waiting for it, and how a
// consumer's request is put together once its inputs are done (see remote/call.hpp, remote_task).
#include <stdexcept>
#include <utility>
#include <vector>

#include "fronta/remote/call.hpp"

namespace fronta::detail {

void remote_sink::hold_waiting(remote::remote_task* t) {
    t->waiting.owner = t;
    t->retain();  // the registry's reference
    if (!enter(&t->waiting)) {
        t->drop();
        t->cancel();
        throw_closed();
    }
}

void remote_sink::inputs_done(remote::remote_task* t) noexcept {
    t->cancel();
    leave(&t->waiting);
    t->drop();
}

}  // namespace fronta::detail

namespace fronta::remote {

bool remote_task::link_consumer(remote_task& consumer, std::uint32_t piece) {
    std::lock_guard lock(links_mutex_);
    if (outcome_known_) return false;
    consumer.retain();  // the link keeps the consumer's memory alive until the outcome is written
    consumers_.push_back({&consumer, piece});
    return true;
}

std::vector<remote_task::consumer_link> remote_task::close_links() noexcept {
    std::lock_guard lock(links_mutex_);
    outcome_known_ = true;
    return std::exchange(consumers_, {});
}

std::exception_ptr remote_task::forward_reply(std::string_view reply) noexcept {
    auto links = close_links();
    if (links.empty()) return nullptr;
    std::exception_ptr error;
    std::string_view result;
    try {
        result = result_or_throw(reply);
    } catch (...) {
        error = std::current_exception();
    }
    for (auto& link : links) {
        argument_piece& piece = link.consumer->pieces[link.piece];
        if (error) {
            piece.error = error;
        } else {
            try {
                // With descriptors in the reply the bytes name them: the value goes by value.
                const attachments* received = attachments::current();
                if (piece.reencode != nullptr && received != nullptr && received->has_incoming())
                    piece.reencode(result, piece.bytes);
                else
                    piece.bytes.assign(result.data(), result.size());
            } catch (...) {
                piece.error = std::current_exception();
            }
        }
        link.consumer->input_arrived();
        link.consumer->drop();
    }
    return error;
}

void remote_task::forward_error(const std::exception_ptr& error) noexcept {
    for (auto& link : close_links()) {
        link.consumer->pieces[link.piece].error = error;
        link.consumer->input_arrived();
        link.consumer->drop();
    }
}

void remote_task::forward_cancel() noexcept {
    for (auto& link : close_links()) {
        link.consumer->pieces[link.piece].cancelled = true;
        link.consumer->input_arrived();
        link.consumer->drop();
    }
}

void remote_task::input_arrived() noexcept {
    if (inputs_left_.fetch_sub(1, std::memory_order_acq_rel) == 1) settle();
}

// A failed task fails its consumers, which fail theirs: along a long chain that would nest as
// deep as the chain, so on each thread the tasks to settle are queued and settled in a loop.
void remote_task::settle() noexcept {
    thread_local std::vector<remote_task*>* queued = nullptr;
    retain();  // a shutdown may cancel it meanwhile: its memory stays until it is looked at
    if (queued != nullptr) {
        try {
            queued->push_back(this);
            return;
        } catch (...) {  // no memory for the queue: settle it here, nested
        }
    }
    std::vector<remote_task*> here;
    std::vector<remote_task*>* outer = std::exchange(queued, &here);
    remote_task* next = this;
    for (;;) {
        if (next->claim_settlement()) next->pool->inputs_done(next);
        next->drop();
        if (here.empty()) break;
        next = here.back();
        here.pop_back();
    }
    queued = outer;
}

bool remote_task::assemble(bool descriptors, std::exception_ptr& error, bool& cancelled) noexcept {
    for (auto& piece : pieces) {
        if (piece.cancelled || piece.error) {
            cancelled = piece.cancelled;
            error = piece.error;
            pieces = {};  // every input arrived: nobody writes them any more
            return false;
        }
    }
    try {
        std::size_t total = 0;
        for (auto& piece : pieces) total += piece.bytes.size();
        if (descriptors && total > shared_spill_threshold) {
            output_bytes out(shared_spill_threshold);
            for (auto& piece : pieces) out.append(piece.bytes.data(), piece.bytes.size());
            call.shared_arguments = out.take_shared();
        } else if (pieces.size() == 1) {
            call.arguments = std::move(pieces.front().bytes);
        } else {
            call.arguments.reserve(total);
            for (auto& piece : pieces) call.arguments.append(piece.bytes);
        }
    } catch (...) {
        error = std::current_exception();
        pieces = {};
        return false;
    }
    pieces = {};
    return true;
}

}  // namespace fronta::remote
