# cmake -DPROGRAM=<example> -DARGS="<flags;...>" -P expect_divergence.cmake
# The test of examples/common/nan_guard.hpp: an example whose loss overflows (an absurd --lr) must stop at
# once with exit code 1 and "training diverged" on stderr, not print "loss nan" to the end.
# (PASS_REGULAR_EXPRESSION alone would ignore the exit code, hence this script.)
execute_process(COMMAND ${PROGRAM} ${ARGS} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code STREQUAL "1")
  message(FATAL_ERROR "expected exit code 1, got '${code}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT err MATCHES "training diverged at step [0-9]+: loss is (nan|inf|-inf)")
  message(FATAL_ERROR "stderr lacks 'training diverged at step N: loss is ...'\nstdout:\n${out}\nstderr:\n${err}")
endif()
message(STATUS "stopped as expected: ${err}")
