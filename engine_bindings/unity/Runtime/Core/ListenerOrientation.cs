// ListenerOrientation: Unity's euler angles -> the orientation the LiveFoley protocol carries.
//
// What it is: the one conversion the Unity package makes before publishing a frame, so that
// every frame descriptor holds LiveFoley's convention (protocol/README.md "Orientation"):
// radians, intrinsic yaw-pitch-roll about a right-handed x-front, y-left, z-up frame;
// yaw + = head turns LEFT, pitch + = looks UP, roll + = RIGHT ear down; each wrapped to
// (-pi, pi].
// Unity's Transform.eulerAngles (degrees, [0, 360)) apply z, then x, then y about Unity's
// left-handed x-right, y-up, z-forward axes: y + turns RIGHT, x + looks DOWN, z + puts the
// LEFT ear down. The same order with every sign flipped, so the conversion is
// (yaw, pitch, roll) = (-y, -x, -z) in radians (models/spatial listener_orientation,
// engine "unity"; tests/engine_bindings/test_orientation.py checks it under Mono against
// Unity's rotation matrices).
// What it is not: UnityEngine code (it takes three floats), so Mono tests it outside Unity.
//
// Real-time safe: yes (no allocation). Thread-safety: pure functions.
using System;

namespace LiveFoley
{
    public static class ListenerOrientation
    {
        const double DegToRad = Math.PI / 180.0;

        /// <summary>Angle in degrees (any range) to radians in (-pi, pi].</summary>
        public static float WrapDegreesToRadians(float degrees)
        {
            double d = Math.IEEERemainder(degrees, 360.0); // [-180, 180]
            if (d <= -180.0) d += 360.0;
            return (float)(d * DegToRad);
        }

        /// <summary>Unity eulerAngles (x, y, z degrees) -> LiveFoley (yaw, pitch, roll radians).</summary>
        public static void FromUnityEuler(float xDeg, float yDeg, float zDeg,
                                          out float yawRad, out float pitchRad, out float rollRad)
        {
            yawRad = -WrapDegreesToRadians(yDeg);
            pitchRad = -WrapDegreesToRadians(xDeg);
            rollRad = -WrapDegreesToRadians(zDeg);
            // -(pi) is outside (-pi, pi]: a half turn is +pi whichever way it was written.
            if (yawRad <= (float)-Math.PI) yawRad = (float)Math.PI;
            if (pitchRad <= (float)-Math.PI) pitchRad = (float)Math.PI;
            if (rollRad <= (float)-Math.PI) rollRad = (float)Math.PI;
        }
    }
}
