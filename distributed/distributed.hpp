// <unroll/distributed/distributed.hpp>: data-parallel training over MPI (docs/distributed.md).
//
//   #include <unroll/distributed/distributed.hpp>   // with -DUNROLL_DISTRIBUTED=ON; link unroll::distributed
//
// Not part of <unroll/unroll.hpp>: the core library has no MPI dependency.
#pragma once

#include "unroll/distributed/data_parallel.hpp"
#include "unroll/distributed/process_group.hpp"
#include "unroll/distributed/sharding.hpp"
