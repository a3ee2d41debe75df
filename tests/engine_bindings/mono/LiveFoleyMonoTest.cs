// The Unity binding's managed core (engine_bindings/unity/Runtime/Core), exercised under
// Mono without UnityEngine: create a session through liblivefoley, start a sidecar, read
// audio at a 48 kHz cadence through AudioReader (what OnAudioFilterRead calls), publish
// frames, and check the failure paths. Prints RESULT key=value lines; exits 1 when a check
// fails. Usage: mono LiveFoleyMonoTest.exe SESSION SIDECAR_EXE MODEL|- SECONDS AWAIT_MS
using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using LiveFoley;

static class LiveFoleyMonoTest
{
    static int failures;

    static void Check(bool ok, string what)
    {
        if (!ok)
        {
            failures++;
            Console.Error.WriteLine("FAIL " + what);
        }
    }

    static void Result(string key, object value)
    {
        Console.WriteLine("RESULT " + key + "=" + value);
    }

    static void Layout(Type t, string cname)
    {
        Result("sizeof." + cname, Marshal.SizeOf(t));
        foreach (var f in t.GetFields())
            if (!f.IsStatic)
                Result("offsetof." + cname + "." + f.Name, Marshal.OffsetOf(t, f.Name).ToInt64());
    }

    static void ExpectThrow(LfStatus code, string needle, Action a, string what)
    {
        try
        {
            a();
            Check(false, what + ": expected LiveFoleyException(" + code + "), nothing thrown");
        }
        catch (LiveFoleyException e)
        {
            Check(e.Code == code, what + ": expected code " + code + ", found " + e.Code);
            Check(e.Message.Contains(needle), what + ": message lacks '" + needle + "': " + e.Message);
            Result(what, "ok");
        }
    }

    static int Main(string[] args)
    {
        string name = args[0], exe = args[1], model = args[2] == "-" ? null : args[2];
        double seconds = double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
        uint awaitMs = uint.Parse(args[4]);

        LiveFoleySession.EnsureLibrary();
        Result("abi", NativeMethods.lf_abi_version());
        Layout(typeof(LfSessionConfig), "lf_session_config_t");
        Layout(typeof(LfStats), "lf_stats_t");

        ExpectThrow(LfStatus.NotFound, name + "-missing",
                    () => LiveFoleySession.Attach(name + "-missing"), "attach_missing");

        var cfg = LiveFoleySession.DefaultConfig();
        cfg.ring_capacity_frames = 16384;
        cfg.max_frame_width = 160;
        cfg.max_frame_height = 120;
        using (var session = LiveFoleySession.Create(name, cfg))
        {
            ExpectThrow(LfStatus.Exists, name, () => LiveFoleySession.Create(name, cfg), "create_twice");
            ExpectThrow(LfStatus.Spawn, "/nonexistent/livefoley",
                        () => session.SpawnSidecar("/nonexistent/livefoley", null), "spawn_missing");
            var sw = Stopwatch.StartNew();
            session.SpawnSidecar(exe, model);
            session.AwaitSidecar(awaitMs);
            Result("await_ms", sw.ElapsedMilliseconds);
            Result("channels", session.Channels);
            Result("sample_rate_hz", session.SampleRateHz);

            var reader = new AudioReader();
            reader.Attach(session);
            const int Block = 480; // 10 ms at 48 kHz, a typical engine callback
            var stereo = new float[Block * 2];
            var mono = new float[Block];
            var six = new float[Block * 6];
            var frame = new byte[160 * 120 * 4];
            long started = -1, silentAfterStart = 0, realTotal = 0;
            double sum0 = 0, sum1 = 0;
            long n = 0;
            float peak0 = 0, peak1 = 0, monoPeak = 0, sixPeakExtra = 0, sixPeak0 = 0;
            int blocks = (int)(seconds * 100);
            ulong frameIndex = 0;
            var clock = Stopwatch.StartNew();
            for (int b = 0; b < blocks; ++b)
            {
                // Pace like an audio callback: block b is due at b * 10 ms.
                while (clock.Elapsed.TotalMilliseconds < b * 10.0) Thread.Sleep(1);
                if (b % 3 == 0)
                {
                    for (int i = 0; i < frame.Length; i += 4)
                    {
                        frame[i] = (byte)(b + i); frame[i + 1] = (byte)(i >> 8); frame[i + 2] = (byte)b;
                        frame[i + 3] = 255;
                    }
                    session.PublishFrame(frame, 160, 120, 0, LfPixelFormat.Rgba8, frameIndex++,
                        (ulong)(clock.Elapsed.Ticks * 100), 0.1f * b, 0f, 0f);
                }
                int real;
                if (b % 50 == 25)
                {
                    // Channel mapping paths, as a mono or 5.1 output would call them.
                    real = reader.Read(mono, 1);
                    for (int i = 0; i < real; ++i) monoPeak = Math.Max(monoPeak, Math.Abs(mono[i]));
                }
                else if (b % 50 == 26)
                {
                    real = reader.Read(six, 6);
                    for (int i = 0; i < real; ++i)
                    {
                        sixPeak0 = Math.Max(sixPeak0, Math.Abs(six[i * 6]));
                        for (int c = 2; c < 6; ++c) sixPeakExtra = Math.Max(sixPeakExtra, Math.Abs(six[i * 6 + c]));
                    }
                }
                else
                {
                    real = reader.Read(stereo, 2);
                    for (int i = 0; i < real; ++i)
                    {
                        float l = stereo[2 * i], r = stereo[2 * i + 1];
                        sum0 += l * l; sum1 += r * r; n++;
                        peak0 = Math.Max(peak0, Math.Abs(l)); peak1 = Math.Max(peak1, Math.Abs(r));
                    }
                }
                realTotal += real;
                if (started < 0 && real == Block) started = b;
                else if (started >= 0) silentAfterStart += Block - real;
            }
            var st = session.Stats();
            string problem;
            bool alive = session.CheckSidecar(2000, out problem);
            reader.Detach();
            Result("blocks", blocks);
            Result("start_block", started);
            Result("real_frames", realTotal);
            Result("silent_frames_after_start", silentAfterStart);
            Result("rms_left", n > 0 ? Math.Sqrt(sum0 / n) : 0);
            Result("rms_right", n > 0 ? Math.Sqrt(sum1 / n) : 0);
            Result("peak_left", peak0);
            Result("peak_right", peak1);
            Result("mono_peak", monoPeak);
            Result("six_peak_front", sixPeak0);
            Result("six_peak_extra", sixPeakExtra);
            Result("stats_underrun_frames", st.underrun_frames);
            Result("stats_frames_published", st.frames_published);
            Result("stats_frames_dropped", st.frames_dropped);
            Result("stats_channels", st.channels);
            Result("sidecar_alive", alive ? 1 : 0);
            Result("sidecar_problem", problem ?? "");
            Check(st.frames_published == frameIndex, "frames_published expected " + frameIndex +
                  ", found " + st.frames_published);
            Check(st.channels == 2, "stats channels expected 2, found " + st.channels);
        }
        Result("failures", failures);
        return failures == 0 ? 0 : 1;
    }
}
