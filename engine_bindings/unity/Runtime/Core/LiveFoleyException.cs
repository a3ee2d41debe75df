// The exception the C# bindings throw: a liblivefoley status code plus the library's
// detailed message (what was expected, what was found). Never thrown on the audio thread.
using System;

namespace LiveFoley
{
    public class LiveFoleyException : Exception
    {
        public LfStatus Code { get; private set; }

        public LiveFoleyException(LfStatus code, string message) : base(message)
        {
            Code = code;
        }

        /// <summary>Throw for a failed call, with lf_last_error()'s detail.</summary>
        public static void Check(int rc, string what)
        {
            if (rc >= 0) return;
            string detail = NativeMethods.CString(NativeMethods.lf_last_error());
            if (detail.Length == 0) detail = NativeMethods.CString(NativeMethods.lf_error_string(rc));
            throw new LiveFoleyException((LfStatus)rc,
                "LiveFoley: " + what + " failed (" + (LfStatus)rc + "): " + detail);
        }
    }
}
