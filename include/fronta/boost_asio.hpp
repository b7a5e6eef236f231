#pragma once
/// @file boost_asio.hpp
/// @brief fronta futures inside Boost.Asio: the names of <fronta/asio.hpp> under
/// `fronta::boost_asio` (`async_get`, `run_in_executor`, `use_future`). Header-only; link the CMake
/// target `fronta::boost_asio` (or pkg-config `fronta-boost-asio`).
///
/// Debian 12's Boost 1.74 carries Asio 1.18, which has no per-operation cancellation slots: there
/// a wait cannot be cancelled through Asio (no `cancellation_signal`, no `awaitable_operators`).
/// Cancel the fronta future instead (`future::cancel`): the wait then completes with
/// `fronta::cancelled_error`. Nor has it `experimental::deferred` or `use_promise`; callbacks,
/// `use_awaitable` and `use_future` work. From Boost 1.77 on, cancellation works as in standalone
/// Asio.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/version.hpp>
#include <boost/system/system_error.hpp>
#if BOOST_ASIO_VERSION >= 101900
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_type.hpp>
#endif

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "fronta/errors.hpp"
#include "fronta/future.hpp"
#include "fronta/promise.hpp"

#define FRONTA_ASIO_NS boost::asio
#define FRONTA_ASIO_BRIDGE boost_asio
#define FRONTA_ASIO_SYSTEM_ERROR ::boost::system::system_error
#define FRONTA_ASIO_ERROR_CODE ::boost::system::error_code
#define FRONTA_ASIO_HAS_CANCELLATION (BOOST_ASIO_VERSION >= 101900)
#include "fronta/detail/asio_bridge.ipp"
#undef FRONTA_ASIO_NS
#undef FRONTA_ASIO_BRIDGE
#undef FRONTA_ASIO_SYSTEM_ERROR
#undef FRONTA_ASIO_ERROR_CODE
#undef FRONTA_ASIO_HAS_CANCELLATION
