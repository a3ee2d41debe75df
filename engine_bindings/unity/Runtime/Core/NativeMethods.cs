// P/Invoke declarations of liblivefoley (engine_bindings/c/include/livefoley/livefoley.h).
//
// What it is: the one place C# meets the C ABI. Struct mirrors are blittable and laid out
// exactly as the C structs (tests/engine_bindings/test_mono.py compares Marshal.SizeOf and
// field offsets with engine_bindings/c/abi/livefoley_abi.json). No UnityEngine here: this
// file compiles with plain mcs.
// What it is not: the friendly API; use LiveFoleySession.
using System;
using System.Runtime.InteropServices;

namespace LiveFoley
{
    /// <summary>Status codes of liblivefoley (LF_OK / LF_ERR_*).</summary>
    public enum LfStatus
    {
        Ok = 0,
        InvalidArg = -1,
        NotFound = -2,
        Exists = -3,
        BadMagic = -4,
        AbiMismatch = -5,
        BadLayout = -6,
        Unsupported = -7,
        FrameTooLarge = -8,
        WouldBlock = -9,
        NoMemory = -10,
        System = -11,
        PeerDead = -12,
        WrongRole = -13,
        Spawn = -20,
        SidecarExited = -21,
        Timeout = -22,
        NoCuda = -30,
        Cuda = -31,
        Protocol = -40,
    }

    public enum LfFrameMode : uint { Latest = 0, Fifo = 1 }

    public enum LfPixelFormat : uint { Rgba8 = 1, Bgra8 = 2, Rgb8 = 3 }

    /// <summary>Mirror of lf_session_config_t (64 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct LfSessionConfig
    {
        public uint struct_size;
        public uint sample_rate_hz;
        public uint channels;
        public uint ring_capacity_frames;
        public uint frame_mode;
        public uint frame_slots;
        public uint max_frame_width;
        public uint max_frame_height;
        public uint max_bytes_per_pixel;
        public uint reserved0, reserved1, reserved2, reserved3, reserved4, reserved5, reserved6;
    }

    /// <summary>Mirror of lf_stats_t (136 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct LfStats
    {
        public uint struct_size;
        public uint role;
        public uint sample_rate_hz;
        public uint channels;
        public uint ring_capacity_frames;
        public uint frame_mode;
        public ulong audio_frames_written;
        public ulong audio_frames_read;
        public ulong audio_fill_frames;
        public ulong underrun_frames;
        public ulong underrun_events;
        public ulong frames_published;
        public ulong frames_dropped;
        public long sidecar_heartbeat_age_ns;
        public long sidecar_pid;
        public uint sidecar_alive;
        public uint reserved0;
        public ulong reserved1, reserved2, reserved3, reserved4;
    }

    /// <summary>Raw entry points. Strings go in as NUL-terminated UTF-8 byte arrays.</summary>
    public static unsafe class NativeMethods
    {
        public const string Library = "livefoley";

        /// <summary>The ABI these bindings were written against (LF_LIB_ABI_VERSION).</summary>
        public const uint ExpectedAbiVersion = 1;

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern uint lf_abi_version();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern uint lf_protocol_version();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr lf_error_string(int code);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr lf_last_error();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern void lf_session_config_init(ref LfSessionConfig config);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_session_create(byte[] name, ref LfSessionConfig config,
                                                   out IntPtr session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_session_attach(byte[] name, out IntPtr session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_session_detach(IntPtr session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_session_destroy(IntPtr session, uint timeoutMs);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern uint lf_session_channels(IntPtr session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern uint lf_session_sample_rate_hz(IntPtr session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_session_heartbeat(IntPtr session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_session_stats(IntPtr session, ref LfStats stats);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_sidecar_spawn(IntPtr session, byte[] executable, byte[] model);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_sidecar_await(IntPtr session, uint timeoutMs);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_sidecar_check(IntPtr session, uint maxAgeMs);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_sidecar_stop(IntPtr session, uint timeoutMs);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_publish_frame_host(IntPtr session, void* pixels, uint width,
            uint height, uint rowPitchBytes, uint pixelFormat, ulong frameIndex, ulong captureNs,
            float yawRad, float pitchRad, float rollRad);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_cuda_available();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_publish_frame_cuda(IntPtr session, ulong devicePtr, uint width,
            uint height, uint rowPitchBytes, uint pixelFormat, ulong frameIndex, ulong captureNs,
            float yawRad, float pitchRad, float rollRad, IntPtr cudaStream);

        /// <summary>Real-time safe: no locks, allocation or system calls in C; the pointer
        /// must stay valid (pinned) for the call.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int lf_read_audio(IntPtr session, float* output, uint frames);

        /// <summary>NUL-terminated UTF-8 for a C string argument (null stays null).</summary>
        public static byte[] Utf8(string s)
        {
            if (s == null) return null;
            byte[] raw = System.Text.Encoding.UTF8.GetBytes(s);
            byte[] z = new byte[raw.Length + 1];
            Array.Copy(raw, z, raw.Length);
            return z;
        }

        public static string CString(IntPtr p)
        {
            return p == IntPtr.Zero ? "" : Marshal.PtrToStringAnsi(p);
        }
    }
}
