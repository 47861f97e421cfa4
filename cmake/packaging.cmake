# Debian packages of unroll, made by CPack from the install components of CMakeLists.txt:
#
#   cmake --build build -j2 && cpack -G DEB --config build/CPackConfig.cmake -B build/packages
#
#   libunroll-dev_<version>-1_<arch>.deb              component "dev": libunroll.so*, the headers
#                                                     (<unroll/...>), the CMake package (find_package(unroll)),
#                                                     unroll.pc, the HTML reference when it was built
#   libunroll-distributed-dev_<version>-1_<arch>.deb  component "distributed" (only with -DUNROLL_DISTRIBUTED=ON):
#                                                     libunroll_distributed.so*, <unroll/distributed/...>,
#                                                     unroll::distributed, unroll-distributed.pc
#
# Installed under /usr whatever CMAKE_INSTALL_PREFIX is (libraries in /usr/${CMAKE_INSTALL_LIBDIR}; configure
# with -DCMAKE_INSTALL_PREFIX=/usr for Debian's multiarch lib/<triplet>). Depends:
#  - the shared libraries' run-time dependencies (libfmt9, libopenblas0, libzip4, libopenmpi3, libstdc++6, ...)
#    are found by dpkg-shlibdeps (package dpkg-dev) from the libraries themselves;
#  - nothing else for libunroll-dev: the headers include only the standard library (tests/consumer/
#    package_deb.sh checks it) and the CMake package calls no find_dependency; libxtensor-dev is Recommended
#    for the opt-in <unroll/framework/xtensor_interop.hpp>, the one header that includes xtensor's;
#  - libunroll-distributed-dev: libunroll-dev of the same version. MPI stays inside the library (its headers
#    do not include <mpi.h>, so libopenmpi-dev is not needed to build programs); openmpi-bin, whose mpirun
#    starts the ranks, is Recommended.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME unroll)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "unroll maintainers <maintainers@users.noreply.b-seed-3666be5d.example>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL dev)
if(UNROLL_DISTRIBUTED)
  list(APPEND CPACK_COMPONENTS_ALL distributed)
endif()

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <package>_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libunroll_distributed.so needs libunroll.so.<major>, which no installed package has yet: dpkg-shlibdeps
# finds it in the build directory and leaves it to the explicit Depends on libunroll-dev (= version).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR})
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)  # a component's DEPENDS become "Depends: <package> (= version)"
# a shlibs control file per package ("libunroll 0 libunroll-dev (= version)"), for packages built against it
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libunroll-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS libxtensor-dev)
set(CPACK_DEBIAN_DEV_DESCRIPTION "Dynamic computation graphs with reverse-mode autodiff; RNN, LSTM and GRU layers
built from generic ops, with PyTorch's names and semantics. This package has the
shared library libunroll, its headers, the CMake package (find_package(unroll),
target unroll::unroll) and the pkg-config file unroll.pc.")

set(CPACK_DEBIAN_DISTRIBUTED_PACKAGE_NAME libunroll-distributed-dev)
set(CPACK_DEBIAN_DISTRIBUTED_PACKAGE_RECOMMENDS openmpi-bin)
set(CPACK_DEBIAN_DISTRIBUTED_DESCRIPTION "Data-parallel training over MPI (OpenMPI) for unroll: ProcessGroup, DataParallel
and sharding helpers. This package has the shared library libunroll_distributed,
its headers, the CMake target unroll::distributed and the pkg-config file
unroll-distributed.pc.")

include(CPack)
cpack_add_component(dev DISPLAY_NAME "unroll (core library)" REQUIRED)
if(UNROLL_DISTRIBUTED)
  cpack_add_component(distributed DISPLAY_NAME "unroll::distributed (MPI)" DEPENDS dev)
endif()
