#pragma once
/// @file fronta.hpp
/// @brief Everything in fronta: futures, waiting, and the executors.
/// @code
/// #include <fronta/fronta.hpp>
/// fronta::thread_pool pool;
/// auto f = pool.submit([](double x) { return x * x; }, 5.0);
/// @endcode

#include "fronta/as_completed.hpp"
#include "fronta/combinators.hpp"
#include "fronta/errors.hpp"
#include "fronta/executor.hpp"
#include "fronta/file_chunks.hpp"
#include "fronta/future.hpp"
#include "fronta/init.hpp"
#include "fronta/inline_executor.hpp"
#include "fronta/map.hpp"
#include "fronta/map_reduce.hpp"
#include "fronta/mapped_file.hpp"
#include "fronta/process_pool.hpp"
#include "fronta/progress.hpp"
#include "fronta/promise.hpp"
#include "fronta/remote/registry.hpp"
#include "fronta/report.hpp"
#include "fronta/shared_array.hpp"
#include "fronta/thread_pool.hpp"
#include "fronta/tracing.hpp"
#include "fronta/wait.hpp"
