// LiveFoleyOrientation.h: Unreal's FRotator angles -> the orientation the LiveFoley protocol
// carries (protocol/README.md "Orientation").
//
// LiveFoley's convention: radians, intrinsic yaw-pitch-roll about right-handed axes x front,
// y left, z up; yaw + = the head turns LEFT, pitch + = looks UP, roll + = RIGHT ear down;
// each wrapped to (-pi, pi]. Unreal's FRotator (degrees, left-handed x forward, y right,
// z up) applies the same yaw-pitch-roll order, with yaw + = turns RIGHT, pitch + = nose UP,
// roll + = clockwise seen from behind (right ear down). So only yaw flips:
// (yaw, pitch, roll) = (-Yaw, Pitch, Roll) in radians (models/spatial listener_orientation,
// engine "unreal").
//
// Plain C++17 with no engine types, so tests/engine_bindings/test_orientation.py compiles it
// with g++ and checks it against Unreal's FRotationMatrix formulas; call it as
// LiveFoley::ToListenerOrientation(R.Yaw, R.Pitch, R.Roll).
// Real-time safe: yes. Thread-safety: pure functions.
#pragma once

#include <cmath>

namespace LiveFoley
{
struct FListenerOrientation
{
    float YawRad;
    float PitchRad;
    float RollRad;
};

/** Degrees (any range) to radians in (-pi, pi]. */
inline float WrapDegreesToRadians(double Degrees)
{
    double D = std::remainder(Degrees, 360.0); // [-180, 180]
    if (D <= -180.0) D += 360.0;
    return static_cast<float>(D * (3.14159265358979323846 / 180.0));
}

/** FRotator (Yaw, Pitch, Roll in degrees) -> LiveFoley's listener orientation. */
inline FListenerOrientation ToListenerOrientation(double YawDeg, double PitchDeg, double RollDeg)
{
    // -Yaw wrapped: negate after wrapping, then map -pi to +pi (a half turn is +pi).
    float Yaw = -WrapDegreesToRadians(YawDeg);
    if (Yaw <= -3.14159265f) Yaw = -Yaw;
    return FListenerOrientation{Yaw, WrapDegreesToRadians(PitchDeg), WrapDegreesToRadians(RollDeg)};
}
} // namespace LiveFoley
