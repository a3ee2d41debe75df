// LiveFoleyBehaviour ("LiveFoley Session"): owns the session for a Unity scene.
//
// What it is: inspector settings for the session and the sidecar; creates the session on
// enable, spawns the sidecar (optional) and waits for its heartbeat without blocking the
// main thread, beats every frame, watches the sidecar's health, and reports every failure
// in the Unity console with liblivefoley's message (what was expected, what was found).
// Audio and capture components (LiveFoleyAudioFilter, LiveFoleyNativeAudio,
// LiveFoleyCapture) find the session through this component.
// What it is not: the audio path (see LiveFoleyNativeAudio / LiveFoleyAudioFilter).
using System;
using System.Collections;
using UnityEngine;

namespace LiveFoley.Unity
{
    [DisallowMultipleComponent]
    [AddComponentMenu("LiveFoley/LiveFoley Session")]
    public sealed class LiveFoleyBehaviour : MonoBehaviour
    {
        [Header("Session")]
        [Tooltip("Shared-memory session name (letters, digits, '-', '_'). Empty: lf-unity-<pid>.")]
        public string sessionName = "";
        [Tooltip("0 = Unity's output sample rate (AudioSettings.outputSampleRate).")]
        public int sampleRateHz = 0;
        [Tooltip("0 = Unity's speaker mode channel count.")]
        public int channels = 0;
        [Tooltip("Audio ring capacity in frames (power of two). 16384 = 341 ms at 48 kHz.")]
        public int ringCapacityFrames = 16384;
        [Tooltip("Latest: newest frame wins, never waits (games). Fifo: every frame, back-pressure.")]
        public LfFrameMode frameMode = LfFrameMode.Latest;
        public int maxFrameWidth = 1280;
        public int maxFrameHeight = 720;

        [Header("Sidecar")]
        [Tooltip("Start `livefoley serve --session NAME` when the session is created.")]
        public bool spawnSidecar = true;
        [Tooltip("Executable; empty = 'livefoley' on PATH.")]
        public string sidecarExecutable = "";
        [Tooltip("Model name or path passed as --model; empty = the sidecar's default.")]
        public string model = "";
        [Tooltip("How long to wait for the sidecar's first heartbeat (it loads a model).")]
        public float sidecarStartTimeoutSeconds = 60f;
        [Tooltip("A heartbeat older than this means the sidecar stopped.")]
        public int sidecarStaleAfterMs = 2000;

        public LiveFoleySession Session { get; private set; }
        public bool SidecarReady { get; private set; }
        public string LastProblem { get; private set; }

        /// <summary>Raised on the main thread once the session exists (and before it is
        /// disposed, with null), so audio components can bind and unbind.</summary>
        public event Action<LiveFoleySession> SessionChanged;

        bool reportedStale;

        void OnEnable()
        {
            string name = string.IsNullOrEmpty(sessionName)
                ? "lf-unity-" + System.Diagnostics.Process.GetCurrentProcess().Id : sessionName;
            try
            {
                var cfg = LiveFoleySession.DefaultConfig();
                cfg.sample_rate_hz = (uint)(sampleRateHz > 0 ? sampleRateHz : AudioSettings.outputSampleRate);
                cfg.channels = (uint)(channels > 0 ? channels : SpeakerChannels(AudioSettings.speakerMode));
                cfg.ring_capacity_frames = (uint)ringCapacityFrames;
                cfg.frame_mode = (uint)frameMode;
                cfg.frame_slots = frameMode == LfFrameMode.Latest ? 3u : 4u;
                cfg.max_frame_width = (uint)maxFrameWidth;
                cfg.max_frame_height = (uint)maxFrameHeight;
                Session = LiveFoleySession.Create(name, cfg);
            }
            catch (LiveFoleyException e)
            {
                Fail(e.Message);
                enabled = false;
                return;
            }
            Debug.Log("LiveFoley: session '" + Session.Name + "' created (" + Session.SampleRateHz +
                      " Hz, " + Session.Channels + " ch)");
            if (SessionChanged != null) SessionChanged(Session);
            if (spawnSidecar) StartCoroutine(StartSidecar());
        }

        IEnumerator StartSidecar()
        {
            try
            {
                Session.SpawnSidecar(string.IsNullOrEmpty(sidecarExecutable) ? null : sidecarExecutable,
                                     string.IsNullOrEmpty(model) ? null : model);
            }
            catch (LiveFoleyException e)
            {
                Fail(e.Message + " -- install the LiveFoley sidecar (pip install livefoley) or set " +
                     "'Sidecar Executable' to its full path.");
                yield break;
            }
            float deadline = Time.realtimeSinceStartup + sidecarStartTimeoutSeconds;
            while (Session != null)
            {
                // A zero timeout polls: ready, exited (with its status), or not yet.
                int rc = NativeMethods.lf_sidecar_await(Session.Handle, 0);
                if (rc == 0)
                {
                    SidecarReady = true;
                    Debug.Log("LiveFoley: sidecar ready for session '" + Session.Name + "'");
                    yield break;
                }
                if (rc == (int)LfStatus.SidecarExited)
                {
                    Fail(NativeMethods.CString(NativeMethods.lf_last_error()) + " -- an incompatible " +
                         "sidecar version, a missing model or a missing Python package makes it exit; " +
                         "run the same command in a terminal to see why.");
                    yield break;
                }
                if (Time.realtimeSinceStartup > deadline)
                {
                    Fail("LiveFoley: no sidecar heartbeat for session '" + Session.Name + "' within " +
                         sidecarStartTimeoutSeconds + " s (expected the sidecar to attach; is it " +
                         "still loading its model?)");
                    yield break;
                }
                yield return null;
            }
        }

        void Update()
        {
            if (Session == null) return;
            Session.Heartbeat();
            if (!SidecarReady || Time.frameCount % 30 != 0) return;
            string problem;
            if (!Session.CheckSidecar((uint)sidecarStaleAfterMs, out problem))
            {
                if (!reportedStale) Fail("LiveFoley: the sidecar stopped: " + problem);
                reportedStale = true;
            }
            else if (reportedStale)
            {
                reportedStale = false;
                Debug.Log("LiveFoley: the sidecar is back for session '" + Session.Name + "'");
            }
        }

        void OnDisable()
        {
            if (Session == null) return;
            if (SessionChanged != null) SessionChanged(null); // audio paths unbind first
            Session.Dispose();
            Session = null;
            SidecarReady = false;
        }

        void Fail(string message)
        {
            LastProblem = message;
            Debug.LogError(message, this);
        }

        static int SpeakerChannels(AudioSpeakerMode mode)
        {
            switch (mode)
            {
                case AudioSpeakerMode.Mono: return 1;
                case AudioSpeakerMode.Quad: return 4;
                case AudioSpeakerMode.Surround: return 5;
                case AudioSpeakerMode.Mode5point1: return 6;
                case AudioSpeakerMode.Mode7point1: return 8;
                default: return 2;
            }
        }
    }
}
