/// systemd's time spans, parsed as systemd 252's `parse_sec` parses them (src/basic/time-util.c), so that forbc
/// accepts what systemd accepts and refuses what it refuses: numbers (a fraction allowed) each followed by an
/// optional unit, spaces between them optional ("90s", "1h30min", "15 min", "1.5h"; a bare number is seconds).
public enum SystemdTimeSpan {
    /// The units, in systemd's order: the first whose name starts the rest wins ("ms" before "m", "min" before
    /// "months", "M" a month).
    static let units: [(name: [UInt8], microseconds: UInt64)] = {
        let second: UInt64 = 1_000_000
        let table: [(String, UInt64)] = [
            ("seconds", second), ("second", second), ("sec", second), ("s", second), ("minutes", 60 * second),
            ("minute", 60 * second), ("min", 60 * second), ("months", 2_629_800 * second),
            ("month", 2_629_800 * second), ("M", 2_629_800 * second), ("msec", 1000), ("ms", 1000),
            ("m", 60 * second), ("hours", 3600 * second), ("hour", 3600 * second), ("hr", 3600 * second),
            ("h", 3600 * second), ("days", 86400 * second), ("day", 86400 * second), ("d", 86400 * second),
            ("weeks", 604_800 * second), ("week", 604_800 * second), ("w", 604_800 * second),
            ("years", 31_557_600 * second), ("year", 31_557_600 * second), ("y", 31_557_600 * second),
            ("usec", 1), ("us", 1), ("μs", 1), ("µs", 1),
        ]
        return table.map { (Array($0.0.utf8), $0.1) }
    }()

    /// systemd's "infinity": `UInt64.max` microseconds.
    public static let infinity = UInt64.max

    /// The span in microseconds, or nil where systemd would refuse it (syntax, or 2^64 µs and more).
    public static func microseconds(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        var index = skipSpace(bytes, 0)
        if bytes[index...].starts(with: Array("infinity".utf8)) {
            return skipSpace(bytes, index + 8) == bytes.count ? infinity : nil
        }
        var total: UInt64 = 0
        var something = false
        while true {
            index = skipSpace(bytes, index)
            guard index < bytes.count else { return something ? total : nil }
            guard let (value, next) = component(bytes, index), value < infinity - total else { return nil }
            total += value
            index = next
            something = true
        }
    }

    /// One number and its unit from `start`: its microseconds and where the next component starts.
    static func component(_ bytes: [UInt8], _ start: Int) -> (UInt64, Int)? {
        var index = start
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") { index += 1 }
        let whole = digits(bytes, index)
        if index > start && whole.isEmpty { return nil }  // strtoll: a sign needs digits
        let wholeEnd = index + whole.count
        var fraction: ArraySlice<UInt8> = []
        var end = wholeEnd
        if end < bytes.count, bytes[end] == UInt8(ascii: ".") {
            fraction = digits(bytes, end + 1)
            guard !fraction.isEmpty else { return nil }  // "3.", "3.sec", "3. 1"
            end += 1 + fraction.count
        } else if whole.isEmpty {
            return nil
        }
        let afterSpace = skipSpace(bytes, end)
        var multiplier: UInt64 = 1_000_000
        var next = afterSpace
        if let unit = units.first(where: { bytes[afterSpace...].starts(with: $0.name) }) {
            multiplier = unit.microseconds
            next = afterSpace + unit.name.count
        } else if afterSpace == end && end < bytes.count {
            return nil  // "12.34.56", "5x"
        }
        var number: UInt64 = 0
        for digit in whole {
            let (times, overflow) = number.multipliedReportingOverflow(by: 10)
            guard !overflow, times <= UInt64(Int64.max) - UInt64(digit - 48) else { return nil }  // strtoll's range
            number = times + UInt64(digit - 48)
        }
        guard number < infinity / multiplier else { return nil }
        var value = number * multiplier
        var scale = multiplier / 10
        for digit in fraction {
            let part = UInt64(digit - 48) * scale
            guard part < infinity - value else { return nil }
            value += part
            scale /= 10
        }
        return (value, next)
    }

    static func digits(_ bytes: [UInt8], _ start: Int) -> ArraySlice<UInt8> {
        let end = bytes[start...].firstIndex { !(48...57).contains($0) } ?? bytes.count
        return bytes[start..<end]
    }

    /// systemd's WHITESPACE: space, tab, newline, carriage return.
    static func skipSpace(_ bytes: [UInt8], _ start: Int) -> Int {
        bytes[start...].firstIndex { ![32, 9, 10, 13].contains($0) } ?? bytes.count
    }
}
