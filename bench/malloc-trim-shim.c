// An experiment, not what the image runs (docs/performance.md, "Where the memory
// goes"): preloaded into a server (LD_PRELOAD), a thread of its own calls glibc's
// malloc_trim(0) every MALLOC_TRIM_INTERVAL_MS (default 10000), returning the
// free pages inside malloc's arenas, which glibc otherwise keeps and Node never
// asks it to give back. Built by bench/malloc-trim.ts with the machine's gcc.
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static void *trim_loop(void *arg) {
  long ms = (long)arg;
  struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
  for (;;) {
    nanosleep(&t, NULL);
    malloc_trim(0);
  }
  return NULL;
}

__attribute__((constructor)) static void start(void) {
  const char *v = getenv("MALLOC_TRIM_INTERVAL_MS");
  long ms = v ? atol(v) : 10000;
  if (ms <= 0) return;
  pthread_t t;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 64 * 1024);
  pthread_create(&t, &a, trim_loop, (void *)ms);
  pthread_attr_destroy(&a);
}
