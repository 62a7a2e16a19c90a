# Finds duet's Debian-packaged dependencies: Threads, zlib, OpenBLAS and Eigen (reference
# backends and test oracles), oneDNN (the reference convolution backend), doctest (tests), Google Benchmark (bench), CLI11 and
# nlohmann-json (the example programs' command line and JSON records).
# scripts/bootstrap.sh installs any that are missing.
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)

find_path(OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas openblas-pthread)
find_library(OPENBLAS_LIBRARY NAMES openblas)
find_package(Eigen3 3.3 NO_MODULE)

if(OPENBLAS_INCLUDE_DIR AND OPENBLAS_LIBRARY)
  set(DUET_HAVE_OPENBLAS ON)
  message(STATUS "duet: OpenBLAS ${OPENBLAS_LIBRARY}")
else()
  message(STATUS "duet: OpenBLAS not found; the openblas GEMM backend is disabled (scripts/bootstrap.sh installs it)")
endif()
if(TARGET Eigen3::Eigen)
  set(DUET_HAVE_EIGEN ON)
else()
  message(STATUS "duet: Eigen not found; the eigen GEMM backend is disabled (scripts/bootstrap.sh installs it)")
endif()

function(duet_link_reference_backends target)
  if(DUET_HAVE_OPENBLAS)
    target_include_directories(${target} PRIVATE ${OPENBLAS_INCLUDE_DIR})
    target_link_libraries(${target} PRIVATE ${OPENBLAS_LIBRARY})
    target_compile_definitions(${target} PUBLIC DUET_HAVE_OPENBLAS=1)
  endif()
  if(DUET_HAVE_EIGEN)
    target_link_libraries(${target} PUBLIC Eigen3::Eigen)
    target_compile_definitions(${target} PUBLIC DUET_HAVE_EIGEN=1)
  endif()
endfunction()

# oneDNN (libdnnl-dev): the onednn backend of the CPU convolution kernels (DUET_CONV,
# kernels/cpu/conv_onednn.cpp). DUET_ONEDNN=AUTO uses it when found, ON requires it, OFF
# leaves it out (asking for the backend is then an error that says how to build it).
# Debian's dnnl-config.cmake requires OpenCL's headers (its GPU runtime), and without them
# find_package(dnnl) stops the configure step, so the package config is tried only when
# OpenCL is found; otherwise the header and library are found directly. Debian's libdnnl
# runs on OpenMP (libgomp): duet links it too, to set oneDNN's thread count.
set(DUET_ONEDNN AUTO CACHE STRING "Build the oneDNN convolution backend: AUTO, ON or OFF")
set_property(CACHE DUET_ONEDNN PROPERTY STRINGS AUTO ON OFF)
set(DUET_WITH_ONEDNN OFF)
if(NOT DUET_ONEDNN STREQUAL "OFF")
  find_package(OpenCL QUIET)
  if(OpenCL_FOUND)
    find_package(dnnl CONFIG QUIET)
  endif()
  find_package(OpenMP QUIET COMPONENTS CXX)
  if(TARGET DNNL::dnnl)
    set(DUET_ONEDNN_LIBRARIES DNNL::dnnl)
    set(DUET_ONEDNN_WHERE "DNNL::dnnl ${dnnl_VERSION}")
  else()
    find_path(DUET_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
    find_library(DUET_DNNL_LIBRARY NAMES dnnl)
    if(DUET_DNNL_INCLUDE_DIR AND DUET_DNNL_LIBRARY)
      set(DUET_ONEDNN_LIBRARIES ${DUET_DNNL_LIBRARY})
      set(DUET_ONEDNN_WHERE ${DUET_DNNL_LIBRARY})
    endif()
  endif()
  if(DUET_ONEDNN_LIBRARIES AND OpenMP_CXX_FOUND)
    set(DUET_WITH_ONEDNN ON)
    message(STATUS "duet: oneDNN ${DUET_ONEDNN_WHERE}: the onednn convolution backend is enabled (DUET_CONV=onednn)")
  elseif(DUET_ONEDNN STREQUAL "ON")
    message(FATAL_ERROR "duet: DUET_ONEDNN=ON but oneDNN (oneapi/dnnl/dnnl.hpp and libdnnl) or OpenMP was not found; "
                        "install Debian's libdnnl-dev (scripts/bootstrap.sh does)")
  else()
    message(STATUS "duet: oneDNN not found; the onednn convolution backend is disabled (scripts/bootstrap.sh installs it)")
  endif()
else()
  message(STATUS "duet: oneDNN off (DUET_ONEDNN=OFF); the onednn convolution backend is disabled")
endif()

function(duet_link_onednn target)
  if(DUET_WITH_ONEDNN)
    target_compile_definitions(${target} PUBLIC DUET_HAVE_ONEDNN=1)
    if(DUET_DNNL_INCLUDE_DIR)
      target_include_directories(${target} PRIVATE ${DUET_DNNL_INCLUDE_DIR})
    endif()
    # The library only, not OpenMP::OpenMP_CXX: its -fopenmp would change how all of duet compiles.
    target_link_libraries(${target} PRIVATE ${DUET_ONEDNN_LIBRARIES} ${OpenMP_CXX_LIBRARIES})
  endif()
endfunction()

if(DUET_BUILD_TESTS)
  find_package(doctest REQUIRED)
endif()
if(DUET_BUILD_BENCH)
  find_package(benchmark QUIET)
  if(NOT benchmark_FOUND)
    message(STATUS "duet: Google Benchmark not found; bench/ is skipped")
  endif()
endif()
if(DUET_BUILD_EXAMPLES)
  # Header-only; Debian's packages ship CMake config files (/usr/share/cmake/...).
  find_package(CLI11 CONFIG QUIET)
  if(NOT TARGET CLI11::CLI11)
    message(FATAL_ERROR "duet: CLI11 not found: the examples' command line needs it. Install Debian's "
                        "libcli11-dev (scripts/bootstrap.sh does), or configure with -DDUET_BUILD_EXAMPLES=OFF.")
  endif()
  find_package(nlohmann_json 3 CONFIG QUIET)
  if(NOT TARGET nlohmann_json::nlohmann_json)
    message(FATAL_ERROR "duet: nlohmann_json not found: the examples' JSON records need it. Install Debian's "
                        "nlohmann-json3-dev (scripts/bootstrap.sh does), or configure with -DDUET_BUILD_EXAMPLES=OFF.")
  endif()
endif()
