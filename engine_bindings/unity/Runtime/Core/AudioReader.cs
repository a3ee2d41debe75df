// AudioReader: the managed audio-thread side of a session, for OnAudioFilterRead.
//
// What it is: fills Unity's interleaved float buffer from the session's ring through
// lf_read_audio, mapping channels when the ring and the output differ (mono ring -> every
// output channel; mono output -> average of the ring's channels; otherwise channel c ->
// channel c, extra outputs silent), or refusing the mismatch (silence + a flag the main
// thread reports) when mapping is disabled.
// What it is not: GC-free in Unity's sense. The callback itself allocates nothing (the
// scratch buffer is made up front), but a managed audio callback can still stall behind a
// garbage collection of the main thread; the native audio plugin has no such stall.
//
// Real-time safe: Read never allocates, locks, logs or throws. Thread-safety: one audio
// thread calls Read; Detach is called on the main thread and returns only once the audio
// thread is out of Read, so the session may be disposed right after.
using System;
using System.Threading;

namespace LiveFoley
{
    public sealed unsafe class AudioReader
    {
        const int ScratchFrames = 4096;

        IntPtr session;
        int ringChannels;
        int inRead;
        readonly float[] scratch;

        /// <summary>Map channels when ring and output differ (else silence + ChannelMismatch).</summary>
        public bool AllowChannelMapping = true;
        public float Gain = 1.0f;

        /// <summary>Set on the audio thread when channels differ and mapping is off; the
        /// main thread reports it (Unity console) and clears it.</summary>
        public volatile int ChannelMismatchFound;

        /// <summary>Frames of real audio and of silence (underrun) this reader produced.</summary>
        public long RealFrames;
        public long SilentFrames;

        public int RingChannels { get { return ringChannels; } }

        public AudioReader(int maxRingChannels = 8)
        {
            scratch = new float[ScratchFrames * Math.Max(1, maxRingChannels)];
        }

        /// <summary>Start reading `s` (main thread).</summary>
        public void Attach(LiveFoleySession s)
        {
            Detach();
            if (s.Channels * ScratchFrames > scratch.Length)
                throw new LiveFoleyException(LfStatus.Unsupported, "LiveFoley: the session has " +
                    s.Channels + " channels, expected at most " + scratch.Length / ScratchFrames +
                    " (raise maxRingChannels)");
            ringChannels = s.Channels;
            Interlocked.Exchange(ref session, s.Handle);
        }

        /// <summary>Stop reading; returns once no Read is using the old session.</summary>
        public void Detach()
        {
            Interlocked.Exchange(ref session, IntPtr.Zero);
            SpinWait spin = new SpinWait();
            while (Volatile.Read(ref inRead) != 0) spin.SpinOnce();
        }

        /// <summary>Fill `data` (interleaved, `outChannels` per frame) completely: ring audio,
        /// then silence. Returns frames of real audio. Real-time safe.</summary>
        public int Read(float[] data, int outChannels)
        {
            if (data == null || outChannels <= 0) return 0;
            int frames = data.Length / outChannels;
            Interlocked.Increment(ref inRead);
            try
            {
                IntPtr s = Volatile.Read(ref session);
                if (s == IntPtr.Zero) { Array.Clear(data, 0, data.Length); return 0; }
                int real;
                if (outChannels == ringChannels)
                {
                    fixed (float* p = data)
                        real = Math.Max(0, NativeMethods.lf_read_audio(s, p, (uint)frames));
                    if (Gain != 1.0f)
                        for (int i = 0; i < frames * outChannels; ++i) data[i] *= Gain;
                }
                else if (!AllowChannelMapping)
                {
                    Array.Clear(data, 0, data.Length);
                    ChannelMismatchFound = outChannels;
                    return 0;
                }
                else
                {
                    real = ReadMapped(s, data, frames, outChannels);
                }
                RealFrames += real;
                SilentFrames += frames - real;
                return real;
            }
            finally
            {
                Interlocked.Decrement(ref inRead);
            }
        }

        int ReadMapped(IntPtr s, float[] data, int frames, int outChannels)
        {
            int done = 0, real = 0, rc = ringChannels;
            while (done < frames)
            {
                int chunk = Math.Min(frames - done, ScratchFrames);
                fixed (float* p = scratch)
                    real += Math.Max(0, NativeMethods.lf_read_audio(s, p, (uint)chunk));
                for (int f = 0; f < chunk; ++f)
                {
                    int o = (done + f) * outChannels, i = f * rc;
                    if (rc == 1)
                    {
                        for (int c = 0; c < outChannels; ++c) data[o + c] = Gain * scratch[i];
                    }
                    else if (outChannels == 1)
                    {
                        float sum = 0;
                        for (int c = 0; c < rc; ++c) sum += scratch[i + c];
                        data[o] = Gain * sum / rc;
                    }
                    else
                    {
                        for (int c = 0; c < outChannels; ++c)
                            data[o + c] = c < rc ? Gain * scratch[i + c] : 0.0f;
                    }
                }
                done += chunk;
            }
            return real;
        }
    }
}
