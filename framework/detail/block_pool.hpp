// Internal: per-thread free lists of fixed-size blocks for the engine's per-op objects.
//
// Every recorded op allocates a Node (with its shared_ptr control block). A forward pass makes thousands
// and backward frees them all at once, a pattern that overflows glibc's small per-thread cache and sends
// most of them to the slower general allocator. PoolAllocator<T> keeps freed blocks of T's size on a
// thread-local list and hands them out again. A block freed on another thread joins that thread's list.
// Under AddressSanitizer every block goes straight to operator new/delete, so use-after-free stays visible.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace unroll::detail {

template <std::size_t Size>
class BlockPool {
 public:
  static void* get() {
    BlockPool* pool = instance();
    if (pool && !pool->free_.empty()) {
      void* block = pool->free_.back();
      pool->free_.pop_back();
      return block;
    }
    return ::operator new(Size);
  }
  static void put(void* block) noexcept {
    BlockPool* pool = instance();
    if (pool && pool->free_.size() < kMaxFree) {
      try {
        pool->free_.push_back(block);
        return;
      } catch (...) {  // out of memory growing the list: give the block back instead
      }
    }
    ::operator delete(block);
  }
  ~BlockPool() {
    alive() = false;  // objects destroyed later on this thread (at thread or program exit) bypass the pool
    for (void* block : free_) ::operator delete(block);
  }

 private:
  static constexpr std::size_t kMaxFree = 1 << 16;  // at most this many idle blocks per thread and size
  static bool& alive() {
    thread_local bool flag = true;  // trivially destructible: readable during thread exit
    return flag;
  }
  static BlockPool* instance() {
    if (!alive()) return nullptr;
    thread_local BlockPool pool;
    return &pool;
  }
  std::vector<void*> free_;
};

// A std::allocator replacement for std::allocate_shared: single objects come from BlockPool.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}
#if defined(__SANITIZE_ADDRESS__)
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
#else
  T* allocate(std::size_t n) {
    if (n == 1) return static_cast<T*>(BlockPool<sizeof(T)>::get());
    return static_cast<T*>(::operator new(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n == 1)
      BlockPool<sizeof(T)>::put(p);
    else
      ::operator delete(p);
  }
#endif
  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace unroll::detail
