/*
 * berth's hello-world: what `berth run hello-world` prints from inside a container. One source,
 * two builds (images/hello-world/build.sh): a static linux/amd64 program without libc (under
 * 10 kB, like Docker's hello-world) and a wasm32-wasi module over wasi-libc.
 */
static const char MESSAGE[] =
    "\n"
    "Hello from berth!\n"
    "This message shows that your installation appears to be working correctly.\n"
    "\n"
    "To generate this message, berth took the following steps:\n"
    " 1. The berth command line opened the berth engine, a library inside its own\n"
    "    Node.js process: there is no daemon.\n"
    " 2. The engine found the \"hello-world\" image in its local store, loaded from\n"
    "    an OCI layout built from berth's own sources (no registry, no network).\n"
#if defined(__wasi__)
    " 3. It chose the image's wasi/wasm build, unpacked its layer into a copy-on-\n"
    "    write union filesystem and ran this WebAssembly module in a worker thread\n"
    "    on the WASI backend (the same image also holds a native linux/amd64 build).\n"
#else
    " 3. It unpacked the image's layer into an overlay snapshot and started this\n"
    "    program in new Linux namespaces and a cgroup (the same image also holds a\n"
    "    WebAssembly build of it, for the WASI backend).\n"
#endif
    " 4. The engine streamed this output to your terminal, and with --rm removed\n"
    "    the container once it exited.\n"
    "\n"
    "To try something more ambitious, load an image with a shell and run:\n"
    " $ berth run -it --rm busybox sh\n"
    "\n"
    "For more, see berth's README.md: berth as a Node.js library, the CLI, and\n"
    "where berth deviates from Docker.\n"
    "\n";

#define LENGTH ((long)sizeof MESSAGE - 1)

#if defined(__wasi__)
#include <unistd.h>

int main(void) {
  return write(1, MESSAGE, (unsigned long)LENGTH) == LENGTH ? 0 : 1;
}
#else
/* x86-64 Linux system calls, so that the program needs no libc and stays tiny. */
static long syscall3(long number, long a, long b, long c) {
  long result;
  __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return result;
}

enum { SYS_WRITE = 1, SYS_EXIT = 60 };

void _start(void) {
  long written = syscall3(SYS_WRITE, 1, (long)MESSAGE, LENGTH);
  syscall3(SYS_EXIT, written == LENGTH ? 0 : 1, 0, 0);
  for (;;) {
  }
}
#endif
