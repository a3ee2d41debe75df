// LiveFoleySession: one LiveFoley session as a C# object over liblivefoley.
//
// What it is: create or attach the shared-memory session, spawn or await the sidecar,
// publish frames from host memory, read stats, and hand the native handle to the audio
// paths (AudioReader for OnAudioFilterRead, the native audio plugin via NativeAudioPlugin).
// Failures throw LiveFoleyException with the library's expected/found message; a missing
// native library or an ABI mismatch is reported the same way, with what to do about it.
// What it is not: Unity-specific (no UnityEngine here), and not the audio thread's API:
// on the audio thread use AudioReader, which never throws or allocates.
//
// Thread-safety: lifecycle, spawn and publish on one thread (Unity's main thread); one
// audio thread reads through an AudioReader; Stats from any thread.
using System;

namespace LiveFoley
{
    public sealed unsafe class LiveFoleySession : IDisposable
    {
        IntPtr handle;
        readonly bool owner;

        public string Name { get; private set; }
        public int Channels { get; private set; }
        public int SampleRateHz { get; private set; }
        public bool IsOwner { get { return owner; } }

        /// <summary>The lf_session_t* for native plugins; IntPtr.Zero once disposed.</summary>
        public IntPtr Handle { get { return handle; } }

        LiveFoleySession(string name, IntPtr h, bool isOwner)
        {
            Name = name;
            handle = h;
            owner = isOwner;
            Channels = (int)NativeMethods.lf_session_channels(h);
            SampleRateHz = (int)NativeMethods.lf_session_sample_rate_hz(h);
        }

        /// <summary>Defaults of liblivefoley (48 kHz stereo, latest-frame mode, ...).</summary>
        public static LfSessionConfig DefaultConfig()
        {
            EnsureLibrary();
            var cfg = new LfSessionConfig();
            NativeMethods.lf_session_config_init(ref cfg);
            return cfg;
        }

        /// <summary>Create (own) a session. Throws LiveFoleyException (Exists, InvalidArg...).</summary>
        public static LiveFoleySession Create(string name, LfSessionConfig config)
        {
            EnsureLibrary();
            IntPtr h;
            LiveFoleyException.Check(
                NativeMethods.lf_session_create(NativeMethods.Utf8(name), ref config, out h),
                "creating session '" + name + "'");
            return new LiveFoleySession(name, h, true);
        }

        /// <summary>Attach to an existing session (validates magic, version and layout).</summary>
        public static LiveFoleySession Attach(string name)
        {
            EnsureLibrary();
            IntPtr h;
            LiveFoleyException.Check(NativeMethods.lf_session_attach(NativeMethods.Utf8(name), out h),
                                     "attaching session '" + name + "'");
            return new LiveFoleySession(name, h, false);
        }

        /// <summary>Check that liblivefoley loads and speaks the ABI these bindings expect.</summary>
        public static void EnsureLibrary()
        {
            uint found;
            try
            {
                found = NativeMethods.lf_abi_version();
            }
            catch (DllNotFoundException e)
            {
                throw new LiveFoleyException(LfStatus.NotFound,
                    "LiveFoley: the native library '" + NativeMethods.Library + "' was not found " +
                    "(expected livefoley.dll / liblivefoley.so / liblivefoley.dylib in the " +
                    "package's Plugins folder or on the library path; build it with " +
                    "'cmake -S engine_bindings -B build && cmake --build build'): " + e.Message);
            }
            catch (EntryPointNotFoundException e)
            {
                throw new LiveFoleyException(LfStatus.AbiMismatch,
                    "LiveFoley: the native library has no lf_abi_version (expected liblivefoley " +
                    "ABI " + NativeMethods.ExpectedAbiVersion + "): " + e.Message);
            }
            if (found != NativeMethods.ExpectedAbiVersion)
                throw new LiveFoleyException(LfStatus.AbiMismatch,
                    "LiveFoley: liblivefoley ABI expected " + NativeMethods.ExpectedAbiVersion +
                    ", found " + found + " (update the package and the native library together)");
        }

        IntPtr Live()
        {
            if (handle == IntPtr.Zero)
                throw new ObjectDisposedException("LiveFoleySession '" + Name + "'");
            return handle;
        }

        /// <summary>Start `executable serve --session NAME [--model MODEL]`; null executable
        /// means "livefoley" on PATH. Pair with AwaitSidecar.</summary>
        public void SpawnSidecar(string executable, string model)
        {
            LiveFoleyException.Check(
                NativeMethods.lf_sidecar_spawn(Live(), NativeMethods.Utf8(executable),
                                               NativeMethods.Utf8(model)),
                "starting the sidecar '" + (executable ?? "livefoley") + "'");
        }

        /// <summary>Block until the sidecar's heartbeat appears; throws on timeout or exit.</summary>
        public void AwaitSidecar(uint timeoutMs)
        {
            LiveFoleyException.Check(NativeMethods.lf_sidecar_await(Live(), timeoutMs),
                                     "waiting for the sidecar of session '" + Name + "'");
        }

        /// <summary>True if the sidecar's heartbeat is younger than maxAgeMs; else the reason.</summary>
        public bool CheckSidecar(uint maxAgeMs, out string problem)
        {
            int rc = NativeMethods.lf_sidecar_check(Live(), maxAgeMs);
            problem = rc == 0 ? null : NativeMethods.CString(NativeMethods.lf_last_error());
            return rc == 0;
        }

        public void StopSidecar(uint timeoutMs)
        {
            LiveFoleyException.Check(NativeMethods.lf_sidecar_stop(Live(), timeoutMs),
                                     "stopping the sidecar");
        }

        public void Heartbeat()
        {
            NativeMethods.lf_session_heartbeat(Live());
        }

        /// <summary>Publish a frame from host memory. Returns false when a FIFO session has
        /// no free slot (back-pressure; try again next frame); throws on any other error.</summary>
        public bool PublishFrame(IntPtr pixels, int width, int height, int rowPitchBytes,
                                 LfPixelFormat format, ulong frameIndex, ulong captureNs,
                                 float yawRad, float pitchRad, float rollRad)
        {
            int rc = NativeMethods.lf_publish_frame_host(Live(), (void*)pixels, (uint)width,
                (uint)height, (uint)rowPitchBytes, (uint)format, frameIndex, captureNs, yawRad,
                pitchRad, rollRad);
            if (rc == (int)LfStatus.WouldBlock) return false;
            LiveFoleyException.Check(rc, "publishing frame " + frameIndex);
            return true;
        }

        /// <summary>Publish from a managed byte array (pinned for the call, not copied).</summary>
        public bool PublishFrame(byte[] pixels, int width, int height, int rowPitchBytes,
                                 LfPixelFormat format, ulong frameIndex, ulong captureNs,
                                 float yawRad, float pitchRad, float rollRad)
        {
            if (pixels == null) throw new ArgumentNullException("pixels");
            fixed (byte* p = pixels)
                return PublishFrame((IntPtr)p, width, height, rowPitchBytes, format, frameIndex,
                                    captureNs, yawRad, pitchRad, rollRad);
        }

        public LfStats Stats()
        {
            var s = new LfStats();
            s.struct_size = (uint)System.Runtime.InteropServices.Marshal.SizeOf(typeof(LfStats));
            LiveFoleyException.Check(NativeMethods.lf_session_stats(Live(), ref s), "reading stats");
            return s;
        }

        /// <summary>Owner: stop a spawned sidecar, unlink the segment. Attached: detach.
        /// Unbind every audio path (NativeAudioPlugin.Unbind, AudioReader) first.</summary>
        public void Dispose()
        {
            IntPtr h = handle;
            handle = IntPtr.Zero;
            if (h != IntPtr.Zero)
            {
                if (owner) NativeMethods.lf_session_destroy(h, 3000);
                else NativeMethods.lf_session_detach(h);
            }
            GC.SuppressFinalize(this);
        }
    }
}
