// LiveFoleyCapture: publishes what the player sees, every frame, to the session.
//
// What it is: the readback path. The source (the final screen image, a RenderTexture, or a
// capture Camera's target) is scaled and flipped into a small RGBA32 RenderTexture on the
// GPU, read back asynchronously (AsyncGPUReadback, no stall), and the bytes are published
// with the camera's orientation (converted to LiveFoley's convention by ListenerOrientation)
// and the capture time. At most `maxInFlight` readbacks are
// pending; in Latest mode a late frame is simply superseded.
// What it is not: the zero-copy GPU path. That needs a native rendering plugin that copies
// the render target into a CUDA-exported (Linux) or shared D3D12 (Windows) slot on the
// render thread; liblivefoley's lf_publish_frame_cuda is that plugin's back end (see the
// package README).
using System.Collections;
using Unity.Collections;
using Unity.Collections.LowLevel.Unsafe;
using UnityEngine;
using UnityEngine.Rendering;

namespace LiveFoley.Unity
{
    [AddComponentMenu("LiveFoley/LiveFoley Capture")]
    public sealed unsafe class LiveFoleyCapture : MonoBehaviour
    {
        public enum Source { Screen, RenderTexture, Camera }

        public LiveFoleyBehaviour session;
        public Source source = Source.Screen;
        [Tooltip("Source when 'Source' is RenderTexture.")]
        public RenderTexture sourceTexture;
        [Tooltip("Source when 'Source' is Camera: rendered into its own target texture.")]
        public Camera sourceCamera;
        [Tooltip("Orientation reported with each frame; empty = the main camera.")]
        public Transform orientationFrom;
        [Tooltip("Pixels published per frame (the sidecar resizes anyway; smaller is cheaper).")]
        public int width = 640;
        public int height = 360;
        [Tooltip("Publish every Nth rendered frame (1 = every frame).")]
        [Min(1)] public int everyNthFrame = 1;
        [Range(1, 4)] public int maxInFlight = 2;

        RenderTexture scaled;
        RenderTexture screenCopy;
        int inFlight;
        ulong published;
        static readonly long StartTicks = System.Diagnostics.Stopwatch.GetTimestamp();

        void OnEnable()
        {
            if (session == null) session = FindObjectOfType<LiveFoleyBehaviour>();
            if (!SystemInfo.supportsAsyncGPUReadback)
            {
                Debug.LogError("LiveFoley: this graphics API has no AsyncGPUReadback; LiveFoleyCapture is off", this);
                enabled = false;
                return;
            }
            scaled = new RenderTexture(width, height, 0, RenderTextureFormat.ARGB32);
            scaled.Create();
            StartCoroutine(CaptureLoop());
        }

        void OnDisable()
        {
            StopAllCoroutines();
            if (scaled != null) { scaled.Release(); Destroy(scaled); scaled = null; }
            if (screenCopy != null) { screenCopy.Release(); Destroy(screenCopy); screenCopy = null; }
        }

        IEnumerator CaptureLoop()
        {
            var endOfFrame = new WaitForEndOfFrame();
            while (enabled)
            {
                yield return endOfFrame;
                if (session == null || session.Session == null || !session.SidecarReady) continue;
                if (Time.frameCount % everyNthFrame != 0 || inFlight >= maxInFlight) continue;
                Texture src = GrabSource();
                if (src == null) continue;
                // Readback rows come bottom-up; flip on the GPU so the sidecar gets top-down.
                Graphics.Blit(src, scaled, new Vector2(1f, -1f), new Vector2(0f, 1f));
                long captureNs = (System.Diagnostics.Stopwatch.GetTimestamp() - StartTicks) *
                                 (1000000000L / System.Diagnostics.Stopwatch.Frequency);
                Vector3 e = (orientationFrom != null ? orientationFrom
                             : (Camera.main != null ? Camera.main.transform : transform)).eulerAngles;
                ulong index = (ulong)Time.frameCount;
                inFlight++;
                AsyncGPUReadback.Request(scaled, 0, TextureFormat.RGBA32,
                    req => OnReadback(req, index, captureNs, e));
            }
        }

        Texture GrabSource()
        {
            switch (source)
            {
                case Source.RenderTexture:
                    return sourceTexture;
                case Source.Camera:
                    if (sourceCamera == null) return null;
                    if (sourceCamera.targetTexture == null)
                        sourceCamera.targetTexture = new RenderTexture(width, height, 24);
                    return sourceCamera.targetTexture;
                default:
                    if (screenCopy == null || screenCopy.width != UnityEngine.Screen.width ||
                        screenCopy.height != UnityEngine.Screen.height)
                    {
                        if (screenCopy != null) { screenCopy.Release(); Destroy(screenCopy); }
                        screenCopy = new RenderTexture(UnityEngine.Screen.width, UnityEngine.Screen.height, 0);
                    }
                    ScreenCapture.CaptureScreenshotIntoRenderTexture(screenCopy);
                    return screenCopy;
            }
        }

        void OnReadback(AsyncGPUReadbackRequest req, ulong index, long captureNs, Vector3 euler)
        {
            inFlight--;
            if (req.hasError || session == null || session.Session == null) return;
            NativeArray<byte> data = req.GetData<byte>();
            // The protocol carries LiveFoley's convention (yaw + left, pitch + up, roll + right
            // ear down, radians), not Unity's eulerAngles: convert before publishing.
            float yaw, pitch, roll;
            ListenerOrientation.FromUnityEuler(euler.x, euler.y, euler.z, out yaw, out pitch, out roll);
            try
            {
                bool accepted = session.Session.PublishFrame(
                    (System.IntPtr)NativeArrayUnsafeUtility.GetUnsafeReadOnlyPtr(data), req.width,
                    req.height, req.width * 4, LfPixelFormat.Rgba8, index, (ulong)captureNs,
                    yaw, pitch, roll);
                if (accepted) published++;
            }
            catch (LiveFoleyException ex)
            {
                Debug.LogError(ex.Message + " (LiveFoleyCapture disabled)", this);
                enabled = false;
            }
        }

        public ulong FramesPublished { get { return published; } }
    }
}
