/* An LD_PRELOAD shim for tests: makes writes and syncs of files under a directory fail with
 * EIO, as a dying disk would, while the test says so.
 *
 * EHLO_FAULT_FILE names a control file, read at every intercepted call (so a test switches
 * faults on and off while the server runs). Each of its lines is "OPERATIONS PREFIX":
 * OPERATIONS a comma-separated list of write (writev too), pwrite (pwrite64 too), fsync,
 * fdatasync, syncfs (or "all"),
 * PREFIX an absolute directory. A call on a descriptor whose path (/proc/self/fd/N) is PREFIX
 * or lies under it fails with EIO. No file, or an empty one: no faults.
 *
 * EHLO_FAKE_KERNEL_RELEASE, when set, is what uname(2) reports as the release (to test how
 * ehlo treats old kernels).
 *
 * Built only for tests (tests/CMakeLists.txt); nothing of it is in the ehlo binary. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#define CONTROL_MAX 8192

static void *next_symbol(const char *name) { return dlsym(RTLD_NEXT, name); }

/* Whether the control file asks for `op` to fail on the file behind `fd`. */
static int should_fail(int fd, const char *op) {
    const char *control = getenv("EHLO_FAULT_FILE");
    if (!control || !*control) return 0;
    int saved = errno;
    char text[CONTROL_MAX + 1];
    int cfd = open(control, O_RDONLY | O_CLOEXEC);
    if (cfd < 0) {
        errno = saved;
        return 0;
    }
    ssize_t n = read(cfd, text, CONTROL_MAX);
    close(cfd);
    if (n <= 0) {
        errno = saved;
        return 0;
    }
    text[n] = '\0';

    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, sizeof path - 1);
    errno = saved;
    if (len <= 0) return 0;
    path[len] = '\0';

    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *space = strchr(line, ' ');
        if (!space) continue;
        *space = '\0';
        const char *ops = line, *prefix = space + 1;
        size_t plen = strlen(prefix);
        while (plen > 1 && prefix[plen - 1] == '/') --plen;
        if (plen == 0 || strncmp(path, prefix, plen) != 0 || (path[plen] != '\0' && path[plen] != '/')) continue;
        if (strcmp(ops, "all") == 0) return 1;
        size_t oplen = strlen(op);
        for (const char *p = ops; *p;) {
            const char *comma = strchr(p, ',');
            size_t l = comma ? (size_t)(comma - p) : strlen(p);
            if (l == oplen && strncmp(p, op, l) == 0) return 1;
            if (!comma) break;
            p = comma + 1;
        }
    }
    return 0;
}

#define FAIL_IF(fd, op, value)          \
    do {                                \
        if (should_fail((fd), (op))) {  \
            errno = EIO;                \
            return (value);             \
        }                               \
    } while (0)

ssize_t write(int fd, const void *buf, size_t count) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t))next_symbol("write");
    FAIL_IF(fd, "write", -1);
    return real(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec *iov, int n) {
    static ssize_t (*real)(int, const struct iovec *, int);
    if (!real) real = (ssize_t(*)(int, const struct iovec *, int))next_symbol("writev");
    FAIL_IF(fd, "write", -1);
    return real(fd, iov, n);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t, off_t))next_symbol("pwrite");
    FAIL_IF(fd, "pwrite", -1);
    return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) {
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (!real) real = (ssize_t(*)(int, const void *, size_t, off_t))next_symbol("pwrite64");
    FAIL_IF(fd, "pwrite", -1);
    return real(fd, buf, count, offset);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))next_symbol("fsync");
    FAIL_IF(fd, "fsync", -1);
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))next_symbol("fdatasync");
    FAIL_IF(fd, "fdatasync", -1);
    return real(fd);
}

int syncfs(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))next_symbol("syncfs");
    FAIL_IF(fd, "syncfs", -1);
    return real(fd);
}

int uname(struct utsname *buf) {
    static int (*real)(struct utsname *);
    if (!real) real = (int (*)(struct utsname *))next_symbol("uname");
    int rc = real(buf);
    const char *release = getenv("EHLO_FAKE_KERNEL_RELEASE");
    if (rc == 0 && release && *release) {
        strncpy(buf->release, release, sizeof buf->release - 1);
        buf->release[sizeof buf->release - 1] = '\0';
    }
    return rc;
}
