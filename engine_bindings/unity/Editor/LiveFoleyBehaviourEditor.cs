// Inspector for LiveFoleyBehaviour: the settings, plus live session state in play mode
// (sidecar health, ring fill, underruns, frames) and the last problem in red.
using UnityEditor;
using UnityEngine;
using LiveFoley.Unity;

namespace LiveFoley.Editor
{
    [CustomEditor(typeof(LiveFoleyBehaviour))]
    public sealed class LiveFoleyBehaviourEditor : UnityEditor.Editor
    {
        public override void OnInspectorGUI()
        {
            DrawDefaultInspector();
            var b = (LiveFoleyBehaviour)target;
            if (!string.IsNullOrEmpty(b.LastProblem))
                EditorGUILayout.HelpBox(b.LastProblem, MessageType.Error);
            if (!Application.isPlaying || b.Session == null) return;
            LfStats s;
            try { s = b.Session.Stats(); }
            catch (LiveFoleyException e) { EditorGUILayout.HelpBox(e.Message, MessageType.Error); return; }
            EditorGUILayout.Space();
            EditorGUILayout.LabelField("Session", b.Session.Name + "  (" + s.sample_rate_hz + " Hz, " + s.channels + " ch)");
            EditorGUILayout.LabelField("Sidecar", s.sidecar_alive != 0
                ? "alive, pid " + s.sidecar_pid + ", heartbeat " + (s.sidecar_heartbeat_age_ns / 1000000) + " ms ago"
                : (b.SidecarReady ? "NOT RESPONDING" : "starting..."));
            EditorGUILayout.LabelField("Ring fill", (1000.0 * s.audio_fill_frames / s.sample_rate_hz).ToString("F1") + " ms");
            EditorGUILayout.LabelField("Underruns", s.underrun_events + " events, " + s.underrun_frames + " frames");
            EditorGUILayout.LabelField("Frames", s.frames_published + " published, " + s.frames_dropped + " superseded");
            Repaint();
        }
    }
}
