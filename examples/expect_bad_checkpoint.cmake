# cmake -DPROGRAM=<example> -DNAME=<program name> -DNPZ_SET=<npz_set binary> -DDIR=<scratch dir>
#       "-DMAKE=<flags;...>" "-DEDIT=<entry;how;values...>" "-DRESUME=<flags;...>" -DEXPECT=<regex>
#       -P expect_bad_checkpoint.cmake
# A checkpoint is input: the example writes one (PROGRAM MAKE --save DIR/ckpt), npz_set spoils one entry of
# its trainer.npz (EDIT: see examples/test_tools/npz_set.cpp), and resuming from it (PROGRAM RESUME --resume
# DIR/ckpt) must be refused with exit code 2 and one line on stderr naming the file and the entry (EXPECT),
# before any of it is used: no read out of bounds (the ASan build runs these too), no NaN trained on.
# EDIT = "none" resumes the unspoiled checkpoint, which must succeed: the control.
cmake_minimum_required(VERSION 3.16)
foreach(var PROGRAM NAME NPZ_SET DIR MAKE EDIT RESUME)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_bad_checkpoint.cmake: -D${var}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
execute_process(COMMAND ${PROGRAM} ${MAKE} --save ${DIR}/ckpt --out ${DIR}/out RESULT_VARIABLE code
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code STREQUAL "0")
  message(FATAL_ERROR "writing the checkpoint failed (${code})\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT EDIT STREQUAL "none")
  execute_process(COMMAND ${NPZ_SET} ${DIR}/ckpt/trainer.npz ${EDIT} RESULT_VARIABLE code ERROR_VARIABLE err)
  if(NOT code STREQUAL "0")
    message(FATAL_ERROR "npz_set ${EDIT} failed (${code}): ${err}")
  endif()
endif()
execute_process(COMMAND ${PROGRAM} ${RESUME} --resume ${DIR}/ckpt --out ${DIR}/out RESULT_VARIABLE code
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(EDIT STREQUAL "none")
  if(NOT code STREQUAL "0")
    message(FATAL_ERROR "resuming the unspoiled checkpoint failed (${code})\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  message(STATUS "the unspoiled checkpoint resumes")
  file(REMOVE_RECURSE ${DIR})
  return()
endif()
if(NOT code STREQUAL "2")
  message(FATAL_ERROR "${EDIT}: expected exit code 2, got '${code}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT err MATCHES "^${NAME}: [^\n]*trainer\\.npz[^\n]*${EXPECT}[^\n]*\n$")
  message(FATAL_ERROR "${EDIT}: stderr is not one line '${NAME}: .../trainer.npz...${EXPECT}...'\nstderr:\n${err}")
endif()
message(STATUS "${EDIT}: refused as expected: ${err}")
file(REMOVE_RECURSE ${DIR})
