# Compiles SOURCE and passes only if compilation fails with EXPECTED in the compiler's output.
execute_process(COMMAND ${CXX} -std=c++20 -fsyntax-only -I${INCLUDE_DIR} ${EXTRA_FLAGS} ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must be rejected")
endif()
string(FIND "${err}" "${EXPECTED}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${SOURCE} was rejected without the message '${EXPECTED}':\n${err}")
endif()
message(STATUS "rejected with: ${EXPECTED}")
