# TSNATIVE_SANITIZE=address,undefined instruments every target configured after this (core, ts-infer, tests,
# fuzzer). LibTorch itself stays uninstrumented: findings are in our code or in what it hands LibTorch.
if(TSNATIVE_SANITIZE)
  # Frame pointers for readable reports; UBSan findings abort instead of printing and going on, so that a script
  # or the fuzzer sees them as failures.
  add_compile_options(-fsanitize=${TSNATIVE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${TSNATIVE_SANITIZE})
  message(STATUS "tsnative: sanitizers ${TSNATIVE_SANITIZE}")
endif()
