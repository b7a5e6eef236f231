# The futures core and the in-process executors know nothing about shipping: none of HEADERS
# may include cereal or fronta/remote/, directly or through another header. Checked on the
# compiler's own list of what a file includes (-M); on failure the include tree (-H) shows who
# pulled it in.
#   CXX, SOURCE_INCLUDE_DIR (fronta's include/), INCLUDE_DIRS (others), HEADERS; lists |-separated.
#   WORK_DIR
set(flags -std=c++20)
string(REPLACE "|" ";" INCLUDE_DIRS "${INCLUDE_DIRS}")
list(APPEND flags -I${SOURCE_INCLUDE_DIR})
foreach(dir ${INCLUDE_DIRS})
  list(APPEND flags -isystem ${dir})  # others' warnings are not ours to fail on
endforeach()
file(MAKE_DIRECTORY ${WORK_DIR})
string(REPLACE "|" ";" HEADERS "${HEADERS}")
set(failed "")
foreach(header ${HEADERS})
  string(MAKE_C_IDENTIFIER ${header} name)
  set(unit ${WORK_DIR}/${name}.cpp)
  file(WRITE ${unit} "#include <${header}>\n")
  execute_process(COMMAND ${CXX} ${flags} -M ${unit} RESULT_VARIABLE rc OUTPUT_VARIABLE deps ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${header}: the compiler could not list its includes:\n${err}")
  endif()
  # -M lists the file itself; without it the list is not what we think it is.
  string(FIND "${deps}" "${SOURCE_INCLUDE_DIR}/${header}" self)
  if(self EQUAL -1)
    message(FATAL_ERROR "${header}: not among its own dependencies (found elsewhere?):\n${deps}")
  endif()
  string(REGEX MATCHALL "[^ \\\n]*(cereal/|fronta/remote/)[^ \\\n]*" shipping "${deps}")
  if(shipping)
    list(APPEND failed ${header})
    execute_process(COMMAND ${CXX} ${flags} -H -fsyntax-only ${unit} ERROR_VARIABLE tree)
    string(REGEX MATCHALL "[^\n]*fronta/[^\n]*" chain "${tree}")
    list(JOIN chain "\n" chain)
    list(JOIN shipping "\n  " shipping)
    message("${header} includes shipping code:\n  ${shipping}\nfronta's include tree (dots = depth):\n${chain}")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "headers that pull in cereal or fronta/remote/: ${failed}")
endif()
list(LENGTH HEADERS count)
message(STATUS "${count} core headers include neither cereal nor fronta/remote/")
