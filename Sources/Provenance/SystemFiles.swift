// Which files count as "system files": the ones nearly every process touches and that say
// nothing about what a program did (the dynamic loader's cache, shared libraries, locale
// and character-set data, time zones, /proc and /sys, /dev/null). Exports and queries
// leave them out unless asked (`--include-system-files`). Executables in /usr/bin are not
// system files: which compiler ran is part of a build's provenance.

public enum SystemFiles {
    static let prefixes = [
        "/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/libexec/", "/usr/share/locale/",
        "/usr/share/zoneinfo/", "/usr/share/i18n/", "/usr/share/terminfo/", "/etc/terminfo/", "/lib/terminfo/",
        "/proc/", "/sys/", "/etc/ld.so.", "/etc/alternatives/",
        "/usr/local/lib/", "/run/nscd/", "/var/run/nscd/",
    ]
    static let exact: Set<String> = [
        "/etc/ld.so.cache", "/etc/ld.so.preload", "/etc/localtime", "/etc/nsswitch.conf", "/etc/locale.alias",
        "/usr/share/locale/locale.alias", "/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full",
        "/proc", "/sys", "/etc/host.conf", "/etc/gai.conf",
    ]

    /// True for paths under the loader, library, locale, /proc and /sys trees, and for
    /// shared objects anywhere (`libfoo.so`, `libfoo.so.1.2`).
    public static func isSystem(path: String) -> Bool {
        if path.isEmpty { return false }
        if exact.contains(path) { return true }
        for p in prefixes where path.hasPrefix(p) {
            // Toolchains installed under /usr/lib (gcc's cc1, collect2) are programs that
            // ran, not libraries: keep executables in libexec-style gcc directories visible.
            if path.hasPrefix("/usr/lib/gcc/") && !path.hasSuffix(".so") && !path.contains(".so.") && !path.hasSuffix(".a") && !path.hasSuffix(".o") {
                return false
            }
            return true
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return name.hasSuffix(".so") || name.contains(".so.")
    }
}
