# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -P run.cmake
# Installs the built unroll into a scratch prefix, builds tests/consumer against it, runs it.
set(prefix ${BUILD_DIR}/consumer/prefix)
file(REMOVE_RECURSE ${BUILD_DIR}/consumer)
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE code)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "consumer test: '${ARGV}' failed (${code})")
  endif()
endfunction()
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${BUILD_DIR}/consumer/build -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${BUILD_DIR}/consumer/build)
run(${BUILD_DIR}/consumer/build/consumer)
message(STATUS "consumer test: find_package(unroll) + unroll::unroll built and ran")
