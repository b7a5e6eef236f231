# Compiles SOURCE and passes only if compilation fails and the first error the compiler reports
# contains EXPECTED: the readable message must come first, not after pages of template errors.
execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -I${INCLUDE_DIR} ${EXTRA_FLAGS} ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must be rejected")
endif()
string(REGEX MATCH "[^\n]*error:[^\n]*" first_error "${err}")
string(FIND "${first_error}" "${EXPECTED}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE} was rejected, but its first error is not '${EXPECTED}':\n${err}")
endif()
string(REGEX MATCHALL "error:" errors "${err}")
list(LENGTH errors error_count)
message(STATUS "rejected with: ${EXPECTED} (first of ${error_count} errors)")
