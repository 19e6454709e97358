import Glibc

/// TSan and ASan keep shadow memory beside every page the test touches, so
/// RSS no longer follows the allocator's pages there.
let runningUnderSanitizer: Bool = {
    guard let handle = dlopen(nil, RTLD_NOW) else { return false }
    defer { dlclose(handle) }
    return dlsym(handle, "__tsan_init") != nil || dlsym(handle, "__asan_init") != nil
}()
