# libtorch from the pinned PyPI wheel in the project venv, found through torch's own CMake config.
# The wheel is a CUDA build: we link torch_cuda too, so the same binaries use a GPU where there is one
# and run on the CPU where there is none.
if(NOT EXISTS "${OMNITUNE_PYTHON}")
  message(FATAL_ERROR "No Python at ${OMNITUNE_PYTHON}: run scripts/setup.sh (or 'make test') first, "
                      "or pass -DOMNITUNE_PYTHON=<python with torch==2.11.0>")
endif()
execute_process(
  COMMAND "${OMNITUNE_PYTHON}" -c "import torch, torch.utils; print(torch.utils.cmake_prefix_path)"
  OUTPUT_VARIABLE _torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${OMNITUNE_PYTHON} cannot import torch: run scripts/setup.sh")
endif()
list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")
# Only nvcc flags depend on this; 9.0 = Hopper (H100/H200), the GPU machines we run on.
if(NOT DEFINED TORCH_CUDA_ARCH_LIST)
  set(TORCH_CUDA_ARCH_LIST "9.0")
endif()
find_package(Torch REQUIRED)
message(STATUS "libtorch ${Torch_VERSION} from ${_torch_prefix}")

# Keep libtorch_cuda loaded even though no symbol of it is referenced directly (its registration
# of the CUDA backend happens in static initialisers).
if(TARGET torch_cuda)
  set(OMNITUNE_TORCH_LIBS -Wl,--no-as-needed torch_cuda -Wl,--as-needed ${TORCH_LIBRARIES})
else()
  set(OMNITUNE_TORCH_LIBS ${TORCH_LIBRARIES})
endif()

# libtorch_cpu.so exports its own statically linked copy of std::filesystem, which crashes when it
# wins symbol lookup (e.g. std::filesystem::remove_all calls a null pointer). Put the system
# libstdc++ first in every binary's load order so its definitions are the ones found.
add_link_options("LINKER:--push-state,--no-as-needed,-lstdc++,--pop-state")
