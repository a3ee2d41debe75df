// LiveFoleyAudioFilter: the simple audio path. An OnAudioFilterRead on an AudioSource that
// fills Unity's interleaved buffer from the session ring through AudioReader.
//
// Real-time: OnAudioFilterRead allocates nothing, locks nothing, logs nothing; problems
// found there (channel mismatch) are flagged and reported from Update on the main thread.
// Prefer LiveFoleyNativeAudio: managed audio callbacks can stall behind a GC pause.
using UnityEngine;

namespace LiveFoley.Unity
{
    [RequireComponent(typeof(AudioSource))]
    [AddComponentMenu("LiveFoley/LiveFoley Audio Filter (OnAudioFilterRead)")]
    public sealed class LiveFoleyAudioFilter : MonoBehaviour
    {
        public LiveFoleyBehaviour session;
        [Tooltip("Map channels when Unity's output and the session differ; else play silence and report it.")]
        public bool allowChannelMapping = false;
        [Range(0f, 4f)] public float gain = 1f;

        readonly AudioReader reader = new AudioReader(16);
        bool reportedMismatch, reportedRate;

        void OnEnable()
        {
            if (session == null) session = FindObjectOfType<LiveFoleyBehaviour>();
            if (session == null)
            {
                Debug.LogError("LiveFoley: LiveFoleyAudioFilter needs a LiveFoleyBehaviour (none in the scene)", this);
                enabled = false;
                return;
            }
            session.SessionChanged += Bind;
            if (session.Session != null) Bind(session.Session);
            var source = GetComponent<AudioSource>();
            // A playing source with a silent looping clip keeps Unity calling the filter.
            if (source.clip == null) source.clip = AudioClip.Create("LiveFoleySilence", 1024, 1,
                                                                    AudioSettings.outputSampleRate, false);
            source.loop = true;
            source.spatialBlend = 0f;
            if (!source.isPlaying) source.Play();
        }

        void Bind(LiveFoleySession s)
        {
            if (s == null) { reader.Detach(); return; }
            if (s.SampleRateHz != AudioSettings.outputSampleRate && !reportedRate)
            {
                reportedRate = true;
                Debug.LogError("LiveFoley: session sample rate expected " + AudioSettings.outputSampleRate +
                               " Hz (Unity's output), found " + s.SampleRateHz + " Hz; audio will play at the " +
                               "wrong speed. Leave 'Sample Rate Hz' at 0 on the session.", this);
            }
            reader.AllowChannelMapping = allowChannelMapping;
            reader.Attach(s);
        }

        void OnDisable()
        {
            reader.Detach();
            if (session != null) session.SessionChanged -= Bind;
        }

        void Update()
        {
            reader.Gain = gain;
            reader.AllowChannelMapping = allowChannelMapping;
            int found = reader.ChannelMismatchFound;
            if (found != 0 && !reportedMismatch)
            {
                reportedMismatch = true;
                Debug.LogError("LiveFoley: channel count expected " + reader.RingChannels + " (the session), " +
                               "found " + found + " (Unity's output); playing silence. Enable 'Allow Channel " +
                               "Mapping' or create the session with " + found + " channels.", this);
            }
        }

        void OnAudioFilterRead(float[] data, int channels)
        {
            reader.Read(data, channels);
        }
    }
}
