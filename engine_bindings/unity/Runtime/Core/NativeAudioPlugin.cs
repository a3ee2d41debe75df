// P/Invoke to the Unity native audio plugin (AudioPluginLiveFoley, Plugins/Source~): bind a
// session handle to one of its slots so the "LiveFoley Output" mixer effect plays it on
// the mixer thread in C. No UnityEngine here.
using System;
using System.Runtime.InteropServices;

namespace LiveFoley
{
    public static class NativeAudioPlugin
    {
        public const string Library = "AudioPluginLiveFoley";

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        static extern int LiveFoleyAudioPlugin_Bind(int slot, IntPtr session);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        static extern int LiveFoleyAudioPlugin_Unbind(int slot, uint timeoutMs);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        static extern int LiveFoleyAudioPlugin_SlotCount();

        public static int SlotCount { get { return LiveFoleyAudioPlugin_SlotCount(); } }

        public static void Bind(int slot, LiveFoleySession session)
        {
            int rc = LiveFoleyAudioPlugin_Bind(slot, session.Handle);
            if (rc != 0)
                throw new LiveFoleyException((LfStatus)rc, "LiveFoley: binding session '" +
                    session.Name + "' to native audio slot " + slot + " failed: expected a slot " +
                    "in 0.." + (SlotCount - 1) + " and at most 16 channels, found slot " + slot +
                    " and " + session.Channels + " channels");
        }

        /// <summary>Returns once the mixer thread no longer uses the slot's session.</summary>
        public static void Unbind(int slot)
        {
            int rc = LiveFoleyAudioPlugin_Unbind(slot, 2000);
            if (rc != 0)
                throw new LiveFoleyException((LfStatus)rc, "LiveFoley: unbinding native audio slot " +
                    slot + ": the mixer thread did not leave the callback within 2000 ms");
        }
    }
}
