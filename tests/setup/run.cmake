# Set-up does only what is asked (issue 8, item 18):
#  - a configure without CMAKE_BUILD_TYPE (the README's install line) builds optimised;
#  - `make demo` installs only the build group of packages (no MPI, Slurm or munge).
# Run with -DSOURCE_DIR=... -DWORK_DIR=...
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR} -DFRONTA_BUILD_TESTS=OFF
                        -DFRONTA_BUILD_EXAMPLES=OFF -DFRONTA_WITH_MPI=OFF
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configure failed:\n${out}\n${err}")
endif()
file(READ ${WORK_DIR}/compile_commands.json commands)
string(REGEX MATCH "\"command\": \"[^\"]*src/threads/thread_pool.cpp\"" thread_pool_command "${commands}")
if(NOT thread_pool_command MATCHES " -O[23s] ")
  message(FATAL_ERROR "a configure without CMAKE_BUILD_TYPE compiles without optimisation:\n${thread_pool_command}")
endif()

find_program(MAKE make)
execute_process(COMMAND ${MAKE} -n -C ${SOURCE_DIR} demo RESULT_VARIABLE rc OUTPUT_VARIABLE plan ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "make -n demo failed:\n${err}")
endif()
string(REGEX MATCHALL "install-deps.sh[^\n]*" installs "${plan}")
if(NOT installs STREQUAL "install-deps.sh build")
  message(FATAL_ERROR "make demo must install the build group only, but runs: ${installs}")
endif()
message(STATUS "optimised by default; make demo installs: ${installs}")
