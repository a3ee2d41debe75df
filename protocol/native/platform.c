/*
 * Shared memory and process facts for the session segment: POSIX (shm_open, mode 0600,
 * O_EXCL on create) and Windows (named file mappings in the Local\ namespace). Also the
 * monotonic clock, the current pid, and whether a pid is still alive.
 *
 * None of this is real-time safe: hosts call it at session start, stop, and from a
 * watchdog, never from the audio callback.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <string.h>

#include "internal.h"

/* A name is "lf-abc" or "/lf-abc": non-empty, no other '/' or '\', short enough for
 * macOS (31 bytes including the slash) to be the portable limit we document, not enforce. */
static int normalise_name(const char *name, const char *prefix, char *out, size_t outlen)
{
    if (name == NULL) {
        return LF_E_NAME;
    }
    if (name[0] == '/') {
        name++;
    }
    size_t n = strlen(name);
    if (n == 0 || strlen(prefix) + n + 1 > outlen || n + 2 > LF_SHM_NAME_BYTES) {
        return LF_E_NAME;
    }
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '/' || name[i] == '\\') {
            return LF_E_NAME;
        }
    }
    snprintf(out, outlen, "%s%s", prefix, name);
    return LF_OK;
}

static void shm_reset(lf_shm_t *shm)
{
    shm->base = NULL;
    shm->size = 0;
    shm->fd = -1;
    shm->owner = 0;
    shm->reserved0 = 0;
}

#ifdef _WIN32
#include <windows.h>

static int widen(const char *utf8, wchar_t *out, int outlen)
{
    return MultiByteToWideChar(CP_UTF8, 0, utf8, -1, out, outlen) > 0 ? LF_OK : LF_E_NAME;
}

int lf_shm_create(lf_shm_t *shm, const char *name, size_t size)
{
    if (shm == NULL || size == 0) {
        return LF_E_INVALID_ARG;
    }
    shm_reset(shm);
    wchar_t wname[LF_SHM_NAME_BYTES];
    int rc = normalise_name(name, "Local\\", shm->name, sizeof shm->name);
    if (rc != LF_OK || (rc = widen(shm->name, wname, LF_SHM_NAME_BYTES)) != LF_OK) {
        return rc;
    }
    /* NULL security attributes: the default DACL of the creating token, which grants the
     * creating user (and SYSTEM) access only, the Windows analogue of mode 0600. */
    HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE,
                                  (DWORD)((unsigned long long)size >> 32),
                                  (DWORD)(size & 0xFFFFFFFFu), wname);
    if (h == NULL) {
        return LF_E_OS;
    }
    if (GetLastError() == ERROR_ALREADY_EXISTS) {
        CloseHandle(h);
        return LF_E_EXISTS;
    }
    void *p = MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, size);
    if (p == NULL) {
        CloseHandle(h);
        return LF_E_OS;
    }
    shm->base = p;
    shm->size = size;
    shm->fd = (int64_t)(intptr_t)h;
    shm->owner = 1;
    return LF_OK;
}

int lf_shm_open(lf_shm_t *shm, const char *name)
{
    if (shm == NULL) {
        return LF_E_INVALID_ARG;
    }
    shm_reset(shm);
    wchar_t wname[LF_SHM_NAME_BYTES];
    int rc = normalise_name(name, "Local\\", shm->name, sizeof shm->name);
    if (rc != LF_OK || (rc = widen(shm->name, wname, LF_SHM_NAME_BYTES)) != LF_OK) {
        return rc;
    }
    HANDLE h = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, wname);
    if (h == NULL) {
        return GetLastError() == ERROR_FILE_NOT_FOUND ? LF_E_NOT_FOUND : LF_E_OS;
    }
    void *p = MapViewOfFile(h, FILE_MAP_ALL_ACCESS, 0, 0, 0);
    MEMORY_BASIC_INFORMATION info;
    if (p == NULL || VirtualQuery(p, &info, sizeof info) == 0) {
        if (p != NULL) {
            UnmapViewOfFile(p);
        }
        CloseHandle(h);
        return LF_E_OS;
    }
    shm->base = p;
    shm->size = info.RegionSize; /* page-rounded; validate compares total_bytes <= size */
    shm->fd = (int64_t)(intptr_t)h;
    return LF_OK;
}

int lf_shm_close(lf_shm_t *shm)
{
    if (shm == NULL) {
        return LF_E_INVALID_ARG;
    }
    int rc = LF_OK;
    if (shm->base != NULL && !UnmapViewOfFile(shm->base)) {
        rc = LF_E_OS;
    }
    if (shm->fd != -1 && !CloseHandle((HANDLE)(intptr_t)shm->fd)) {
        rc = LF_E_OS;
    }
    shm_reset(shm);
    return rc;
}

int lf_shm_unlink(const char *name)
{
    char tmp[LF_SHM_NAME_BYTES];
    return normalise_name(name, "Local\\", tmp, sizeof tmp);
}

int64_t lf_now_ns(void)
{
    LARGE_INTEGER freq, now;
    QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (int64_t)((double)now.QuadPart * 1e9 / (double)freq.QuadPart);
}

int64_t lf_current_pid(void)
{
    return (int64_t)GetCurrentProcessId();
}

int lf_pid_alive(int64_t pid)
{
    if (pid <= 0) {
        return 0;
    }
    HANDLE p = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
    if (p == NULL) {
        return GetLastError() == ERROR_ACCESS_DENIED ? 1 : 0;
    }
    DWORD code = 0;
    int alive = GetExitCodeProcess(p, &code) && code == STILL_ACTIVE;
    CloseHandle(p);
    return alive;
}

#else /* POSIX */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int lf_shm_create(lf_shm_t *shm, const char *name, size_t size)
{
    if (shm == NULL || size == 0) {
        return LF_E_INVALID_ARG;
    }
    shm_reset(shm);
    int rc = normalise_name(name, "/", shm->name, sizeof shm->name);
    if (rc != LF_OK) {
        return rc;
    }
    int fd = shm_open(shm->name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
        return errno == EEXIST ? LF_E_EXISTS : LF_E_OS;
    }
    /* The umask can only remove bits; fchmod makes the mode exactly owner read/write. */
    if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)size) != 0) {
        close(fd);
        shm_unlink(shm->name);
        return LF_E_OS;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        shm_unlink(shm->name);
        return LF_E_OS;
    }
    shm->base = p;
    shm->size = size;
    shm->fd = fd;
    shm->owner = 1;
    return LF_OK;
}

int lf_shm_open(lf_shm_t *shm, const char *name)
{
    if (shm == NULL) {
        return LF_E_INVALID_ARG;
    }
    shm_reset(shm);
    int rc = normalise_name(name, "/", shm->name, sizeof shm->name);
    if (rc != LF_OK) {
        return rc;
    }
    int fd = shm_open(shm->name, O_RDWR, 0);
    if (fd < 0) {
        return errno == ENOENT ? LF_E_NOT_FOUND : LF_E_OS;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return LF_E_OS;
    }
    if (st.st_size <= 0) {
        close(fd);
        return LF_E_TOO_SMALL;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        return LF_E_OS;
    }
    shm->base = p;
    shm->size = (size_t)st.st_size;
    shm->fd = fd;
    return LF_OK;
}

int lf_shm_close(lf_shm_t *shm)
{
    if (shm == NULL) {
        return LF_E_INVALID_ARG;
    }
    int rc = LF_OK;
    if (shm->base != NULL && munmap(shm->base, shm->size) != 0) {
        rc = LF_E_OS;
    }
    if (shm->fd >= 0 && close((int)shm->fd) != 0) {
        rc = LF_E_OS;
    }
    shm_reset(shm);
    return rc;
}

int lf_shm_unlink(const char *name)
{
    char pname[LF_SHM_NAME_BYTES];
    int rc = normalise_name(name, "/", pname, sizeof pname);
    if (rc != LF_OK) {
        return rc;
    }
    if (shm_unlink(pname) != 0) {
        return errno == ENOENT ? LF_E_NOT_FOUND : LF_E_OS;
    }
    return LF_OK;
}

int64_t lf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t lf_current_pid(void)
{
    return (int64_t)getpid();
}

int lf_pid_alive(int64_t pid)
{
    if (pid <= 0) {
        return 0;
    }
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM) {
        return 0; /* ESRCH: no such process */
    }
#ifdef __linux__
    /* A killed child stays a zombie until its parent reaps it; kill(pid, 0) still
     * succeeds, so read the state letter from /proc/<pid>/stat ("pid (comm) S ..."). */
    char path[64];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        char buf[512];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *paren = strrchr(buf, ')');
        if (paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X')) {
            return 0;
        }
    }
#endif
    return 1;
}
#endif /* _WIN32 */

int lf_session_create(lf_shm_t *shm, const char *name, const lf_params_t *params)
{
    size_t size = lf_segment_size(params);
    if (size == 0) {
        return LF_E_PARAMS;
    }
    int rc = lf_shm_create(shm, name, size);
    if (rc != LF_OK) {
        return rc;
    }
    rc = lf_segment_init(shm->base, shm->size, params);
    if (rc != LF_OK) {
        char copy[LF_SHM_NAME_BYTES];
        memcpy(copy, shm->name, sizeof copy);
        lf_shm_close(shm);
        lf_shm_unlink(copy);
    }
    return rc;
}

int lf_session_open(lf_shm_t *shm, const char *name, char *err, size_t errlen)
{
    int rc = lf_shm_open(shm, name);
    if (rc != LF_OK) {
        lf_set_err(err, errlen, "open %s: %s", name, lf_strerror(rc));
        return rc;
    }
    rc = lf_segment_validate(shm->base, shm->size, err, errlen);
    if (rc != LF_OK) {
        lf_shm_close(shm);
    }
    return rc;
}
