/* A caller built against the ABI 1.0 header runs unchanged against the 1.1
 * library: the install test's consumer (consumer/consumer.c, untouched),
 * compiled here against the 1.0 header kept beside this file
 * (lightreasoner/lightreasoner.h, as released at ABI 1.0), linked with the
 * library of this build. Also checks that the library reports ABI 1.1. */
#include <lightreasoner/lightreasoner.h>

#if LR_ABI_VERSION_MAJOR != 1 || LR_ABI_VERSION_MINOR != 0
#error "consumer_1_0.c must be compiled against the ABI 1.0 header fixture"
#endif

#define main consumer_main
#include "../consumer/consumer.c"
#undef main

int main(void) {
  const uint32_t abi = lr_abi_version();
  if (abi != ((1u << 16) | 1u)) {
    fprintf(stderr, "consumer_1_0: the library reports ABI %u.%u, expected 1.1\n", (unsigned)(abi >> 16),
            (unsigned)(abi & 0xFFFFu));
    return 1;
  }
  printf("consumer_1_0: built against the ABI 1.0 header, running on the ABI 1.1 library\n");
  return consumer_main();
}
