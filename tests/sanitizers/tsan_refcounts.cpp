// Linked into every binary of the TSan tree, which exports these symbols dynamically.
//
// libcpprest (and libspdlog) are not instrumented, yet they drop the last reference to shared
// objects (pplx tasks, replies, request bodies) that other threads used. They call the
// out-of-line copies of libstdc++'s shared_ptr count operations, which the dynamic linker resolves
// to the first definition it finds. Exported from the executable, that definition is this
// instrumented one: TSan sees the acquire-release decrement that orders every earlier use before
// the delete, instead of reporting each such delete as a race.
#include <memory>
#include <tuple>

namespace {

using Counted = std::_Sp_counted_base<__gnu_cxx::_S_atomic>;

// Taking their addresses makes the compiler emit the inline functions here.
[[gnu::used]] const auto kRefcounts =
    std::make_tuple(&Counted::_M_release, &Counted::_M_add_ref_copy, &Counted::_M_weak_add_ref,
                    &Counted::_M_weak_release);

}  // namespace
