#pragma once
/// @file asio.hpp
/// @brief fronta futures inside standalone Asio (Debian's libasio-dev): `async_get`,
/// `run_in_executor`, and the `use_future` token of the other direction. Header-only; link the
/// CMake target `fronta::asio` (or pkg-config `fronta-asio`).
/// @code
/// asio::awaitable<void> handle(fronta::thread_pool& pool) {
///     // asyncio.wrap_future(pool.submit(crunch, 7)), awaited without blocking the io_context:
///     int r = co_await fronta::asio::async_get(pool.submit(crunch, 7), asio::use_awaitable);
///     // loop.run_in_executor(pool, crunch, 8):
///     int s = co_await fronta::asio::run_in_executor(pool, crunch, 8, asio::use_awaitable);
/// }
/// @endcode
/// With `using namespace fronta;` the name `asio` is ambiguous (::asio and fronta::asio): write
/// `::asio::` for Asio's own names then. Boost.Asio: <fronta/boost_asio.hpp>, `fronta::boost_asio`.

#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/error.hpp>
#include <asio/execution.hpp>
#include <asio/execution_context.hpp>
#include <asio/post.hpp>
#include <asio/system_error.hpp>
#include <asio/version.hpp>
#if ASIO_VERSION >= 101900
#include <asio/associated_cancellation_slot.hpp>
#include <asio/cancellation_type.hpp>
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

#define FRONTA_ASIO_NS asio
#define FRONTA_ASIO_BRIDGE asio
#define FRONTA_ASIO_SYSTEM_ERROR ::asio::system_error
#define FRONTA_ASIO_ERROR_CODE ::asio::error_code
#define FRONTA_ASIO_HAS_CANCELLATION (ASIO_VERSION >= 101900)
#include "fronta/detail/asio_bridge.ipp"
#undef FRONTA_ASIO_NS
#undef FRONTA_ASIO_BRIDGE
#undef FRONTA_ASIO_SYSTEM_ERROR
#undef FRONTA_ASIO_ERROR_CODE
#undef FRONTA_ASIO_HAS_CANCELLATION
