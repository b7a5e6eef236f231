# The two commands of the README: `make demo` and `make test`. Each installs the missing Debian
# packages it needs (scripts/install-deps.sh, by group), configures, builds and runs:
#   demo, all:          build         (g++, cmake, GoogleTest, cereal)
#   test, test-*san:    build + mpi + browser + asio   (+ Open MPI, and MPICH, Slurm, munge for the
#                       MPI tests; headless Chromium for the report's browser test; Asio and Boost
#                       for fronta::asio, fronta::boost_asio and the async server example)
#   bench:              build + asio + bench;  bench-mpi: build + mpi + bench + bench-mpi;  fuzz: fuzz
#   bench-data:         build + bench + bench-data (pandas, Dask)
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
# Sanitizer runs are 5-20x slower: the stress tests use fewer tasks there.
SANITIZER_STRESS_TASKS ?= 100000
CONFIGURE = cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null

.PHONY: all deps demo test test-tsan test-asan bench bench-mpi bench-data clean fuzz format check-format

all:
	@scripts/install-deps.sh build
	@$(CONFIGURE)
	@cmake --build build -j $(JOBS)

deps:
	@scripts/install-deps.sh build mpi browser asio

# The walk-through runs on threads; then the flagship, billion_rows (examples/13_billion_rows.cpp),
# on threads, on processes and, when this build has MPI (`make deps` installs Open MPI), on MPI
# ranks under mpirun. Only the library, the demo and billion_rows are built; billion_rows keeps
# its generated input in build/billion_rows/ for the next run. Each run writes a trace (Chrome
# Trace Event JSON, and JSON lines beside it) and its HTML report into build/traces/, and says where.
MPIRUN = $(firstword $(wildcard /usr/bin/mpirun.openmpi) mpirun)
MPI_RUN_ENV = OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
demo:
	@scripts/install-deps.sh build
	@$(CONFIGURE)
	@cmake --build build -j $(JOBS) --target demo billion_rows
	@mkdir -p build/traces
	@./build/examples/demo --trace build/traces/demo.json
	@echo
	@echo "== billion_rows: min/mean/max per station over a generated file, on threads, processes, MPI =="
	@./build/examples/billion_rows --executor threads --trace build/traces/billion_rows_threads.json
	@./build/examples/billion_rows --executor processes --trace build/traces/billion_rows_processes.json
	@if cmake --build build --target help | grep fronta_mpi >/dev/null; then \
	  $(MPI_RUN_ENV) $(MPIRUN) -n 3 ./build/examples/billion_rows --executor mpi --trace build/traces/billion_rows_mpi.json; \
	else \
	  echo "billion_rows on MPI: skipped, this build has no MPI (make deps installs Open MPI, then make demo again)"; \
	fi

test: deps
	@$(CONFIGURE)
	@cmake --build build -j $(JOBS)
	@cd build && ctest -j $(JOBS) --output-on-failure

test-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DFRONTA_SANITIZE=thread $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-tsan -j $(JOBS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  FRONTA_STRESS_TASKS=$(SANITIZER_STRESS_TASKS) FRONTA_FAULT_TASKS=10000 ctest -j $(JOBS) --output-on-failure -E install_consumer

test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFRONTA_SANITIZE=address,undefined $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1" \
	  LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp" \
	  FRONTA_STRESS_TASKS=$(SANITIZER_STRESS_TASKS) FRONTA_FAULT_TASKS=10000 ctest -j $(JOBS) --output-on-failure -E install_consumer

# bench/threads/ and bench/process/ beside their peers; bench/report.py prints the tables; then
# bench/asio/server_load: examples/14_async_server under load (bench/run.sh build-bench server);
# bench/observe/tracing_bench: what a trace costs (bench/run.sh build-bench tracing alone).
bench:
	@scripts/install-deps.sh build asio bench
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFRONTA_BUILD_BENCH=ON -DFRONTA_BUILD_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-bench -j $(JOBS)
	@bench/run.sh build-bench

# bench/mpi/: mpi_pool beside mpi4py.futures for 1, 2, 4 and 8 workers (MPI_WORKERS to choose).
MPI_WORKERS ?= 1 2 4 8
bench-mpi:
	@scripts/install-deps.sh build mpi bench bench-mpi
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFRONTA_BUILD_BENCH=ON -DFRONTA_BUILD_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-bench -j $(JOBS) --target mpi_pool_bench
	@bench/run_mpi.sh build-bench $(MPI_WORKERS)

# bench/data/: billion_rows on threads, processes and MPI (if installed) beside pandas, Dask
# dataframe, ProcessPoolExecutor and the read limit, on one file of DATA_ROWS rows (1.4 GB at
# 100 million; generated once into build-bench/bench-data/ and kept).
DATA_ROWS ?= 100000000
bench-data:
	@scripts/install-deps.sh build bench bench-data
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DFRONTA_BUILD_BENCH=ON -DFRONTA_BUILD_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-bench -j $(JOBS) --target billion_rows read_limit
	@bench/data/run.sh build-bench $(DATA_ROWS)

clean:
	rm -rf build build-tsan build-asan build-bench build-fuzz


# libFuzzer on the frame decoder (clang from Debian). FUZZ_SECONDS bounds the run.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/install-deps.sh fuzz
	@mkdir -p build-fuzz/corpus
	@clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude \
	  -Isrc tests/fuzz/frame_decoder_fuzz.cpp src/process/wire.cpp -o build-fuzz/frame_decoder_fuzz
	@cp -n tests/fuzz/corpus/* build-fuzz/corpus/ 2>/dev/null || true
	@build-fuzz/frame_decoder_fuzz -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 \
	  build-fuzz/corpus 2>&1 | tail -15

# The code's style (.clang-format): `make format` applies it, `make check-format` fails on a diff.
FORMATTED = $(shell git ls-files 'src/*.[ch]pp' 'include/*.hpp' 'tools/*.cpp' 'tests/*.[ch]pp' 'examples/*.cpp' 'bench/*.[ch]pp' | grep -v compile_fail/)
format:
	@scripts/install-deps.sh format
	@clang-format-16 -i $(FORMATTED)

check-format:
	@scripts/install-deps.sh format
	@clang-format-16 --dry-run --Werror $(FORMATTED)
