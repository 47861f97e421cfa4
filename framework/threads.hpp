// unroll/framework/threads.hpp: how many threads unroll computes on.
//
// unroll keeps one pool of persistent worker threads. The large matrix products (the input projection of
// all time steps at once, weight gradients over T * N rows, large output heads), log_softmax over large
// heads, fused element-wise chains (fused::Program, the cells' gate arithmetic) of at least 8,192 elements
// and the two directions of a bidirectional layer are split between them; everything else, and backward's
// walk over the graph, runs on the calling thread. Products below about 2M multiply-adds (the
// per-step products of small models) stay on one thread: handing them over would cost more than it saves.
//
// Results are bit-identical whatever the thread count: a product is split by blocks of its output, never
// along the summed dimension, so every number is computed by the same operations in the same order.
#pragma once

namespace unroll {

// Use n threads (the calling thread included), n >= 1; throws Error otherwise. The default is the
// environment variable UNROLL_NUM_THREADS when set, else the number of cores this process may run on
// (its CPU affinity). Call it between training steps, not while ops run on other threads of the program.
void set_num_threads(int n);

// The thread count in use.
int get_num_threads();

}  // namespace unroll
