// Linked into every program of a BLURMIX_SANITIZE build: a sanitizer finding aborts (so it can
// never pass for the clean exit status 1 of a refused input), with a stack trace.
extern "C" const char *__asan_default_options() {
    return "abort_on_error=1:detect_leaks=1:check_initialization_order=1:strict_string_checks=1";
}
extern "C" const char *__ubsan_default_options() {
    return "halt_on_error=1:abort_on_error=1:print_stacktrace=1";
}
