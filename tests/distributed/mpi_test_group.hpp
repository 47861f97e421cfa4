// The process group of a test program run under mpirun (mpi_test_main.cpp).
#pragma once

#include <unroll/distributed/distributed.hpp>

unroll::distributed::ProcessGroup& test_group();
