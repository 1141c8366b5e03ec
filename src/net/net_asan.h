/* NET_ASAN: defined in an AddressSanitizer build (GCC or clang), where net
 * needs a few more system calls and no leak checker (net_seccomp.c,
 * net_main.c). */
#ifndef CR_NET_ASAN_H
#define CR_NET_ASAN_H

#if defined(__SANITIZE_ADDRESS__)
#define NET_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NET_ASAN 1
#endif
#endif

#endif
