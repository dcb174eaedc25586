#pragma once
// CHECK(condition, printf-style message): the C++ tests' one assertion; prints and exits 1 on failure.
#include <cstdio>
#include <cstdlib>

#define CHECK(cond, ...)                                  \
  do {                                                    \
    if (!(cond)) {                                        \
      std::printf("FAILED %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                           \
      std::printf("\n");                                  \
      std::exit(1);                                       \
    }                                                     \
  } while (0)
