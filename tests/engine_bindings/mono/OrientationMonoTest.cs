// Prints LiveFoley.ListenerOrientation.FromUnityEuler for each "x y z" (degrees) line on stdin
// as "yaw pitch roll" (radians, round-trip format); tests/engine_bindings/test_orientation.py
// checks the numbers against Unity's own rotation matrices.
using System;
using System.Globalization;

public static class OrientationMonoTest
{
    public static int Main()
    {
        var inv = CultureInfo.InvariantCulture;
        string line;
        while ((line = Console.ReadLine()) != null)
        {
            string[] p = line.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            if (p.Length != 3) { Console.Error.WriteLine("expected 'x y z', found '" + line + "'"); return 2; }
            float yaw, pitch, roll;
            LiveFoley.ListenerOrientation.FromUnityEuler(float.Parse(p[0], inv), float.Parse(p[1], inv),
                                                         float.Parse(p[2], inv), out yaw, out pitch, out roll);
            Console.WriteLine(yaw.ToString("R", inv) + " " + pitch.ToString("R", inv) + " " + roll.ToString("R", inv));
        }
        return 0;
    }
}
