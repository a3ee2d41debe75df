/*
 * Status codes to messages, and the per-thread "last error" detail buffer.
 *
 * lf_error_string() is a static table lookup (real-time safe). lf_last_error() holds the
 * detailed message of the last failing call on the calling thread, written with
 * lfi_fail(); it is never touched by the real-time reader.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

#if defined(_MSC_VER)
#  define LF_THREAD_LOCAL __declspec(thread)
#else
#  define LF_THREAD_LOCAL _Thread_local
#endif

static LF_THREAD_LOCAL char last_error[512];

LF_API const char *lf_error_string(int code)
{
    switch (code) {
    case LF_OK: return "ok";
    case LF_ERR_INVALID_ARG: return "invalid argument";
    case LF_ERR_NOT_FOUND: return "session not found";
    case LF_ERR_EXISTS: return "session already exists";
    case LF_ERR_BAD_MAGIC: return "not a LiveFoley session (bad magic)";
    case LF_ERR_ABI_MISMATCH: return "session layout version mismatch";
    case LF_ERR_BAD_LAYOUT: return "session layout inconsistent or truncated";
    case LF_ERR_UNSUPPORTED: return "format not supported by the session";
    case LF_ERR_FRAME_TOO_LARGE: return "frame larger than a slot";
    case LF_ERR_WOULD_BLOCK: return "no free frame slot (fifo back-pressure)";
    case LF_ERR_NO_MEMORY: return "out of memory";
    case LF_ERR_SYSTEM: return "operating system call failed";
    case LF_ERR_PEER_DEAD: return "peer is not alive (stale heartbeat or dead process)";
    case LF_ERR_WRONG_ROLE: return "operation not allowed for this session role";
    case LF_ERR_SPAWN: return "sidecar executable could not be started";
    case LF_ERR_SIDECAR_EXITED: return "sidecar exited before it was ready";
    case LF_ERR_TIMEOUT: return "timed out waiting for the sidecar";
    case LF_ERR_NO_CUDA: return "CUDA driver library not available";
    case LF_ERR_CUDA: return "CUDA driver call failed";
    case LF_ERR_PROTOCOL: return "protocol error";
    default: return "unknown error code";
    }
}

LF_API const char *lf_last_error(void)
{
    return last_error;
}

int lfi_fail(int code, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(last_error, sizeof last_error, "%s: ", lf_error_string(code));
    if (n < 0 || (size_t)n >= sizeof last_error)
        return code;
    va_start(ap, fmt);
    vsnprintf(last_error + n, sizeof last_error - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

void lfi_clear_error(void)
{
    last_error[0] = '\0';
}
