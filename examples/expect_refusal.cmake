# cmake -DPROGRAM=<example binary> -DNAME=<program name> "-DARGS=<flag;flag;...>" -DEXPECT=<regex>
#       [-DDIR=<working directory>] -P expect_refusal.cmake
# A bad flag (or a bad combination of flags) must be refused before anything runs: exit code 2, exactly one
# line on stderr, "NAME: ..." matching EXPECT, never a signal or an uncaught exception (those give another
# exit code or a message of another form). WILL_FAIL would accept any failure; this checks which one.
cmake_minimum_required(VERSION 3.16)
foreach(var PROGRAM NAME EXPECT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_refusal.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT DEFINED DIR)
  set(DIR ${CMAKE_CURRENT_BINARY_DIR})
endif()
file(MAKE_DIRECTORY ${DIR})
execute_process(COMMAND ${PROGRAM} ${ARGS} WORKING_DIRECTORY ${DIR} RESULT_VARIABLE code OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT code STREQUAL "2")
  message(FATAL_ERROR "${NAME} ${ARGS}: expected exit code 2, got '${code}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT err MATCHES "^${NAME}: [^\n]*${EXPECT}[^\n]*\n$")
  message(FATAL_ERROR "${NAME} ${ARGS}: stderr is not one line '${NAME}: ...${EXPECT}...'\nstderr:\n${err}")
endif()
message(STATUS "${NAME} ${ARGS}: refused as expected: ${err}")
