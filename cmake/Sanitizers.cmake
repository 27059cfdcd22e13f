# ELECTOR_ASAN: AddressSanitizer + UndefinedBehaviorSanitizer (any UB aborts).
# ELECTOR_TSAN: ThreadSanitizer. They cannot be combined.
if(ELECTOR_ASAN AND ELECTOR_TSAN)
  message(FATAL_ERROR "ELECTOR_ASAN and ELECTOR_TSAN cannot be combined")
endif()
if(ELECTOR_ASAN)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(ELECTOR_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
