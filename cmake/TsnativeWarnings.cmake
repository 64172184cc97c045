# tsnative_warnings(target): the warning set for our own code. LibTorch's headers are included as SYSTEM
# headers, so their warnings do not drown ours.
function(tsnative_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
  endif()
endfunction()
