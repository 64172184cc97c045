# Locate LibTorch once and expose it as two namespaced targets:
#   tsnative::torch         LibTorch (C++ API, TorchScript, CUDA kernels when the build has them)
#   tsnative::torch_python  libtorch_python, for the Python module only
#
# Where torch is: Torch_DIR or CMAKE_PREFIX_PATH when given (a LibTorch zip or any install), else the torch
# package of the Python interpreter that runs the build (scikit-build-core's, or the first python3 on PATH).
#
# Why this is more than `find_package(Torch)`: TorchConfig of a CUDA build (the PyPI wheel is one) calls
# enable_language(CUDA) and find_package(CUDAToolkit), so it needs nvcc and libnvrtc at configure time although
# tsnative compiles no CUDA code. We point it at a toolkit when one exists (nvrtc taken from the wheel's
# nvidia/cu*/lib when the toolkit lacks it) and, when none exists, link the wheel's libraries directly, which
# is what torch.utils.cpp_extension does too.

option(TSNATIVE_TORCH_WITHOUT_TOOLKIT
       "Link LibTorch's libraries directly instead of find_package(Torch), even when a CUDA toolkit exists" OFF)

function(_tsnative_python_torch_prefix out_var)
  if(NOT Python_EXECUTABLE)
    find_package(Python 3.9 COMPONENTS Interpreter REQUIRED)
  endif()
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c "import torch; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE prefix OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR
      "tsnative: no LibTorch given (Torch_DIR / CMAKE_PREFIX_PATH) and `${Python_EXECUTABLE}` cannot import "
      "torch:\n${err}\nInstall torch==2.14.1 in that Python, or pass -DCMAKE_PREFIX_PATH=/path/to/libtorch.")
  endif()
  set(${out_var} "${prefix}" PARENT_SCOPE)
endfunction()

# --- 1. Find TorchConfig.cmake ------------------------------------------------------------------------------
find_file(_tsnative_torch_config TorchConfig.cmake
  HINTS "${Torch_DIR}" PATH_SUFFIXES share/cmake/Torch NO_CACHE)
if(NOT _tsnative_torch_config)
  _tsnative_python_torch_prefix(_prefix)
  find_file(_tsnative_torch_config TorchConfig.cmake HINTS "${_prefix}/Torch" NO_DEFAULT_PATH NO_CACHE)
endif()
if(NOT _tsnative_torch_config)
  message(FATAL_ERROR "tsnative: TorchConfig.cmake not found (looked in Torch_DIR, CMAKE_PREFIX_PATH, python's torch)")
endif()
get_filename_component(Torch_DIR "${_tsnative_torch_config}" DIRECTORY)
get_filename_component(TSNATIVE_TORCH_ROOT "${Torch_DIR}/../../.." ABSOLUTE)  # .../site-packages/torch
set(Torch_DIR "${Torch_DIR}" CACHE PATH "Directory of TorchConfig.cmake" FORCE)
message(STATUS "tsnative: LibTorch at ${TSNATIVE_TORCH_ROOT}")

# --- 2. Is it a CUDA build, and is there a toolkit for TorchConfig? ------------------------------------------
set(_cuda_build OFF)
if(EXISTS "${TSNATIVE_TORCH_ROOT}/lib/libtorch_cuda.so")
  set(_cuda_build ON)
endif()

set(_nvcc "")
if(_cuda_build AND NOT TSNATIVE_TORCH_WITHOUT_TOOLKIT)
  if(CMAKE_CUDA_COMPILER)
    set(_nvcc "${CMAKE_CUDA_COMPILER}")
  else()
    find_program(_nvcc_found nvcc NO_CACHE
      HINTS "${CUDAToolkit_ROOT}" "${CUDA_TOOLKIT_ROOT_DIR}" "$ENV{CUDA_HOME}" "$ENV{CUDA_PATH}" /usr/local/cuda
      PATH_SUFFIXES bin)
    if(_nvcc_found)
      set(_nvcc "${_nvcc_found}")
    endif()
  endif()
endif()

if(NOT _cuda_build OR _nvcc)
  # --- 3a. The documented way: find_package(Torch) -----------------------------------------------------------
  if(_nvcc)
    get_filename_component(_toolkit "${_nvcc}/../.." ABSOLUTE)
    set(CMAKE_CUDA_COMPILER "${_nvcc}" CACHE FILEPATH "nvcc for TorchConfig's enable_language(CUDA)")
    set(CUDA_TOOLKIT_ROOT_DIR "${_toolkit}" CACHE PATH "CUDA toolkit for TorchConfig")
    # The wheel's own libnvrtc (nvidia/cu*/lib beside torch) matches the CUDA version torch was built with;
    # a toolkit's copy is the fallback. TorchConfig links it into every client, so it must exist.
    if(NOT CUDA_nvrtc_LIBRARY)
      file(GLOB _wheel_nvrtc "${TSNATIVE_TORCH_ROOT}/../nvidia/*/lib/libnvrtc.so.[0-9]*")
      if(_wheel_nvrtc)
        list(GET _wheel_nvrtc 0 _wheel_nvrtc)
        set(CUDA_nvrtc_LIBRARY "${_wheel_nvrtc}" CACHE FILEPATH "libnvrtc for TorchConfig")
      else()
        find_library(CUDA_nvrtc_LIBRARY nvrtc HINTS "${_toolkit}/lib64" "${_toolkit}/lib")
      endif()
    endif()
    # tsnative compiles no CUDA code; these only keep TorchConfig's CUDA probing from failing or running GPUs.
    if(NOT DEFINED CMAKE_CUDA_STANDARD)
      set(CMAKE_CUDA_STANDARD 17)  # else C++20 is copied over, which CMake < 3.26 cannot pass to nvcc
    endif()
    if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
      set(TORCH_CUDA_ARCH_LIST "8.0")  # skips detecting installed GPUs with a try_run at configure time
    endif()
    message(STATUS "tsnative: CUDA build of torch; toolkit ${_toolkit}, nvrtc ${CUDA_nvrtc_LIBRARY}")
  endif()
  find_package(Torch REQUIRED CONFIG PATHS "${Torch_DIR}" NO_DEFAULT_PATH)
  add_library(tsnative::torch INTERFACE IMPORTED)
  target_link_libraries(tsnative::torch INTERFACE ${TORCH_LIBRARIES})
  target_include_directories(tsnative::torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  if(TORCH_CXX_FLAGS)
    # Torch's flags (historically the libstdc++ ABI switch) must hold for every TU that shares objects with it.
    separate_arguments(_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
    add_compile_options(${_torch_flags})
  endif()
else()
  # --- 3b. No toolkit: link the wheel's libraries directly ----------------------------------------------------
  message(STATUS "tsnative: CUDA build of torch and no CUDA toolkit (nvcc) found: linking LibTorch's "
                 "libraries directly (CUDA still works at run time)")
  set(_lib "${TSNATIVE_TORCH_ROOT}/lib")
  add_library(tsnative::torch INTERFACE IMPORTED)
  target_include_directories(tsnative::torch SYSTEM INTERFACE
    "${TSNATIVE_TORCH_ROOT}/include" "${TSNATIVE_TORCH_ROOT}/include/torch/csrc/api/include")
  # --no-as-needed: nothing references torch_cuda's symbols directly, but loading it registers the CUDA kernels.
  target_link_libraries(tsnative::torch INTERFACE
    "${_lib}/libtorch.so" "${_lib}/libtorch_cpu.so" "${_lib}/libc10.so"
    "-Wl,--no-as-needed,${_lib}/libtorch_cuda.so,${_lib}/libc10_cuda.so,--as-needed")
endif()

# --- 3c. CUDA runtime headers, for CUDA graph capture (cpp/src/backends/torchscript/cuda_graph_capture.cpp) ----------------------------
# LibTorch's at::cuda::CUDAGraph header includes the CUDA runtime's, which include the compiler's crt/ headers: a
# toolkit has them all (the CUDA wheels' nvidia/cu13/include lacks crt/, and compiling against it fails). Without
# them, engines refuse cuda_graphs (cuda_graph_capture_unavailable.cpp).
set(TSNATIVE_CUDA_GRAPHS OFF)
if(_cuda_build)
  file(GLOB _wheel_cuda_includes "${TSNATIVE_TORCH_ROOT}/../nvidia/*/include")
  find_path(TSNATIVE_CUDA_RUNTIME_INCLUDE NAMES crt/host_config.h
    HINTS ${CUDA_TOOLKIT_INCLUDE} "${CUDA_TOOLKIT_ROOT_DIR}/include" ${_wheel_cuda_includes} NO_DEFAULT_PATH)
  # at::cuda::CUDAGraph's layout depends on CUDA_VERSION (conditional nodes from 12.4): older headers than the ones
  # LibTorch was built with would disagree with the library about the object's size.
  set(_cuda_header_version 0)
  if(TSNATIVE_CUDA_RUNTIME_INCLUDE AND EXISTS "${TSNATIVE_CUDA_RUNTIME_INCLUDE}/cuda.h")
    file(STRINGS "${TSNATIVE_CUDA_RUNTIME_INCLUDE}/cuda.h" _cuda_version_line REGEX "^#define CUDA_VERSION [0-9]+")
    string(REGEX MATCH "[0-9]+$" _cuda_header_version "${_cuda_version_line}")
  endif()
  if(TSNATIVE_CUDA_RUNTIME_INCLUDE AND EXISTS "${TSNATIVE_CUDA_RUNTIME_INCLUDE}/cuda_runtime_api.h"
     AND _cuda_header_version GREATER_EQUAL 12040)
    set(TSNATIVE_CUDA_GRAPHS ON)
    target_include_directories(tsnative::torch SYSTEM INTERFACE "${TSNATIVE_CUDA_RUNTIME_INCLUDE}")
  elseif(TSNATIVE_CUDA_RUNTIME_INCLUDE AND EXISTS "${TSNATIVE_CUDA_RUNTIME_INCLUDE}/cuda_runtime_api.h")
    message(STATUS "tsnative: CUDA headers ${_cuda_header_version} are older than 12.4: built without CUDA graph "
                   "capture (cuda_graphs=True is refused)")
  else()
    message(STATUS "tsnative: no complete CUDA runtime headers (a toolkit's include/): built without CUDA graph "
                   "capture (cuda_graphs=True is refused)")
  endif()
endif()

# The lib folder for RPATHs: binaries built here run against the same LibTorch without LD_LIBRARY_PATH.
set(TSNATIVE_TORCH_LIB_DIR "${TSNATIVE_TORCH_ROOT}/lib")

# --- 4. libtorch_python, for _C only (tensor <-> torch.Tensor conversion) -------------------------------------
find_library(TSNATIVE_TORCH_PYTHON_LIBRARY torch_python HINTS "${TSNATIVE_TORCH_LIB_DIR}" NO_DEFAULT_PATH)
if(TSNATIVE_TORCH_PYTHON_LIBRARY)
  add_library(tsnative::torch_python INTERFACE IMPORTED)
  target_link_libraries(tsnative::torch_python INTERFACE "${TSNATIVE_TORCH_PYTHON_LIBRARY}" tsnative::torch)
endif()
