// libblurmix.so is the core library's objects, taken whole (cmake/Install.cmake); a shared
// library target needs a source of its own.
