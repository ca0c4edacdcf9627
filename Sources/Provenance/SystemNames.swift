// Names of errno values and signals, from glibc (strerrorname_np(3), sigabbrev_np(3)), so
// magprov keeps no table of its own.

import CSupport

/// The symbolic name of an errno value as the kernel returned it.
public enum ErrnoName {
    /// "EACCES" for 13; the kernel-internal restart codes a recording can see (512-516,
    /// include/linux/errno.h, never returned to user space but visible at a ptrace stop)
    /// by their kernel names; "errno N" for a number neither names. Cost: one glibc call.
    public static func of(_ e: Int32) -> String {
        if let name = mp_errno_name(e) { return String(cString: name) }
        switch e {
        case 512: return "ERESTARTSYS"
        case 513: return "ERESTARTNOINTR"
        case 514: return "ERESTARTNOHAND"
        case 515: return "ENOIOCTLCMD"
        case 516: return "ERESTART_RESTARTBLOCK"
        default: return "errno \(e)"
        }
    }
}

/// The symbolic name of a signal number.
public enum SignalName {
    /// "SIGSEGV" for 11; "signal N" for a number glibc does not name (real-time signals
    /// included). Cost: one glibc call.
    public static func of(_ signal: Int32) -> String {
        if let abbreviation = mp_signal_abbreviation(signal) { return "SIG" + String(cString: abbreviation) }
        return "signal \(signal)"
    }
}
