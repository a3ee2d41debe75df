/*
 * Child-process control for the sidecar: spawn, poll, terminate, kill; plus the small
 * clock and sleep helpers the await loop needs.
 *
 * POSIX uses posix_spawnp (PATH lookup, no fork of a large engine address space);
 * Windows uses CreateProcessW with a UTF-8 -> UTF-16 command line quoted by the
 * CommandLineToArgvW rules. None of this runs on the real-time thread.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L
#endif
#include "internal.h"

#include <errno.h>
#include <string.h>

#if defined(_WIN32)
#  define WIN32_LEAN_AND_MEAN
#  include <windows.h>
#  include <stdlib.h>
#else
#  include <signal.h>
#  include <spawn.h>
#  include <sys/types.h>
#  include <sys/wait.h>
#  include <time.h>
#  include <unistd.h>
extern char **environ;
#endif

#if defined(_WIN32)

uint64_t lfi_monotonic_ns(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (uint64_t)((double)c.QuadPart * 1e9 / (double)f.QuadPart);
}

void lfi_sleep_ms(uint32_t ms)
{
    Sleep(ms);
}

/* Append `arg` to `cmd` quoted so that CommandLineToArgvW gives it back unchanged. */
static size_t quote_arg(wchar_t *cmd, size_t at, size_t cap, const wchar_t *arg)
{
    size_t i, backslashes;
    if (at + 1 < cap) cmd[at++] = L'"';
    for (i = 0; arg[i]; ++i) {
        backslashes = 0;
        while (arg[i] == L'\\') { ++backslashes; ++i; }
        if (arg[i] == L'\0') { backslashes *= 2; }
        else if (arg[i] == L'"') { backslashes = backslashes * 2 + 1; }
        while (backslashes-- && at + 1 < cap) cmd[at++] = L'\\';
        if (arg[i] == L'\0') break;
        if (at + 1 < cap) cmd[at++] = arg[i];
    }
    if (at + 1 < cap) cmd[at++] = L'"';
    if (at + 1 < cap) cmd[at++] = L' ';
    return at;
}

int lfi_process_spawn(const char *const *argv, lfi_process_t *out)
{
    wchar_t cmd[4096];
    wchar_t warg[1024];
    size_t at = 0;
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    int i;
    for (i = 0; argv[i]; ++i) {
        if (!MultiByteToWideChar(CP_UTF8, 0, argv[i], -1, warg, 1024))
            return lfi_fail(LF_ERR_SPAWN, "argument %d is not valid UTF-8 or too long", i);
        at = quote_arg(cmd, at, 4096, warg);
    }
    if (at == 0 || at >= 4095)
        return lfi_fail(LF_ERR_SPAWN, "command line too long (limit 4095 UTF-16 units)");
    cmd[at - 1] = L'\0';
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    memset(&pi, 0, sizeof pi);
    /* NULL application name: CreateProcessW searches PATH for the first token. */
    if (!CreateProcessW(NULL, cmd, NULL, NULL, FALSE, CREATE_NO_WINDOW, NULL, NULL, &si, &pi))
        return lfi_fail(LF_ERR_SPAWN, "CreateProcessW(\"%s\") failed: Windows error %lu "
                        "(expected the LiveFoley sidecar on PATH)", argv[0],
                        (unsigned long)GetLastError());
    CloseHandle(pi.hThread);
    out->handle = pi.hProcess;
    out->pid = (int64_t)pi.dwProcessId;
    out->running = 1;
    return LF_OK;
}

int lfi_process_poll(lfi_process_t *p, int *exit_code)
{
    DWORD code = 0;
    if (!p->running) { *exit_code = p->exit_code; return 1; }
    if (WaitForSingleObject((HANDLE)p->handle, 0) != WAIT_OBJECT_0) return 0;
    GetExitCodeProcess((HANDLE)p->handle, &code);
    CloseHandle((HANDLE)p->handle);
    p->handle = NULL;
    p->running = 0;
    p->exit_code = (int)code;
    *exit_code = p->exit_code;
    return 1;
}

void lfi_process_terminate(lfi_process_t *p)
{
    /* Windows has no SIGTERM for console-less children; the sidecar also watches the
     * session state, which lf_session_destroy sets to closed before calling this. */
    (void)p;
}

void lfi_process_kill(lfi_process_t *p)
{
    if (p->running && p->handle) TerminateProcess((HANDLE)p->handle, 137);
}

int lfi_pid_alive(int64_t pid)
{
    HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
    DWORD r;
    if (!h) return GetLastError() == ERROR_ACCESS_DENIED;
    r = WaitForSingleObject(h, 0);
    CloseHandle(h);
    return r == WAIT_TIMEOUT;
}

#else /* POSIX */

uint64_t lfi_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lfi_sleep_ms(uint32_t ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000u);
    ts.tv_nsec = (long)(ms % 1000u) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int lfi_process_spawn(const char *const *argv, lfi_process_t *out)
{
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ);
    if (rc != 0)
        return lfi_fail(LF_ERR_SPAWN, "posix_spawnp(\"%s\") failed: %s (expected the "
                        "LiveFoley sidecar executable on PATH, or pass its path)",
                        argv[0], strerror(rc));
    out->pid = (int64_t)pid;
    out->running = 1;
    out->exit_code = 0;
    return LF_OK;
}

int lfi_process_poll(lfi_process_t *p, int *exit_code)
{
    int status = 0;
    pid_t r;
    if (!p->running) { *exit_code = p->exit_code; return 1; }
    r = waitpid((pid_t)p->pid, &status, WNOHANG);
    if (r == 0) return 0;
    p->running = 0;
    if (r < 0) p->exit_code = -1;
    else if (WIFEXITED(status)) p->exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) p->exit_code = 128 + WTERMSIG(status);
    else p->exit_code = -1;
    *exit_code = p->exit_code;
    return 1;
}

void lfi_process_terminate(lfi_process_t *p)
{
    if (p->running) kill((pid_t)p->pid, SIGTERM);
}

void lfi_process_kill(lfi_process_t *p)
{
    if (p->running) kill((pid_t)p->pid, SIGKILL);
}

int lfi_pid_alive(int64_t pid)
{
    if (pid <= 0) return 0;
    if (kill((pid_t)pid, 0) == 0) return 1;
    return errno == EPERM;
}

#endif

int lfi_process_stop(lfi_process_t *p, uint32_t timeout_ms)
{
    int code = 0;
    uint64_t deadline;
    if (!p->running) return LF_OK;
    lfi_process_terminate(p);
    deadline = lfi_monotonic_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (!lfi_process_poll(p, &code)) {
        if (lfi_monotonic_ns() >= deadline) {
            lfi_process_kill(p);
            while (!lfi_process_poll(p, &code)) lfi_sleep_ms(1);
            break;
        }
        lfi_sleep_ms(2);
    }
    return LF_OK;
}
