// LiveFoleyNativeAudio: the preferred audio path. Binds the session to a slot of the
// native audio plugin (AudioPluginLiveFoley); the "LiveFoley Output" effect on an Audio
// Mixer group (its Slot parameter set to the same slot) reads the ring in C on the mixer
// thread: no managed code, no GC stall on the audio path.
using UnityEngine;

namespace LiveFoley.Unity
{
    [AddComponentMenu("LiveFoley/LiveFoley Native Audio (mixer effect)")]
    public sealed class LiveFoleyNativeAudio : MonoBehaviour
    {
        public LiveFoleyBehaviour session;
        [Tooltip("Must equal the 'Slot' parameter of the LiveFoley Output effect in the mixer.")]
        [Range(0, 7)] public int slot = 0;

        bool bound;

        void OnEnable()
        {
            if (session == null) session = FindObjectOfType<LiveFoleyBehaviour>();
            if (session == null)
            {
                Debug.LogError("LiveFoley: LiveFoleyNativeAudio needs a LiveFoleyBehaviour (none in the scene)", this);
                enabled = false;
                return;
            }
            session.SessionChanged += Bind;
            if (session.Session != null) Bind(session.Session);
        }

        void Bind(LiveFoleySession s)
        {
            try
            {
                if (bound) { NativeAudioPlugin.Unbind(slot); bound = false; }
                if (s == null) return;
                NativeAudioPlugin.Bind(slot, s);
                bound = true;
            }
            catch (System.DllNotFoundException e)
            {
                Debug.LogError("LiveFoley: the native audio plugin 'AudioPluginLiveFoley' was not found " +
                               "(expected it in the package's Plugins folder, built by CMake): " + e.Message, this);
                enabled = false;
            }
            catch (LiveFoleyException e)
            {
                Debug.LogError(e.Message, this);
            }
        }

        void OnDisable()
        {
            if (session != null) session.SessionChanged -= Bind;
            if (bound) NativeAudioPlugin.Unbind(slot);
            bound = false;
        }
    }
}
