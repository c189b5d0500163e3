import Foundation

/// One chart of the report: inline in the HTML, and a standalone SVG file with `bench report --figures DIR`.
public struct Figure: Sendable, Equatable {
    /// The file name without ".svg" (letters, digits, '.', '-', '_').
    public var name: String
    /// The SVG element: `xmlns`, `viewBox`, a white background, text labels on both axes and their ticks.
    public var svg: String

    /// The SVG as a file of its own.
    public var standalone: String { "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg }

    /// `parts` joined by '-' with anything but letters, digits, '.', '-' and '_' replaced by '_'.
    static func fileName(_ parts: [String]) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
        return String(parts.joined(separator: "-").map { allowed.contains($0) ? $0 : "_" })
    }
}

/// A plot area with labelled axes: the frame every chart of the report draws in.
struct Plot {
    static let left = 78.0
    static let right = 22.0
    static let top = 44.0
    static let bottom = 76.0

    var width: Double
    var height: Double
    /// The y axis: from `yMin` to `yMax`, ticks at `yTicks`.
    var yMin: Double
    var yMax: Double
    var yTicks: [Double]

    var plotWidth: Double { width - Self.left - Self.right }

    /// A width of at least `minimum` that holds `title` (13 px bold: about 8 px a character).
    static func width(_ minimum: Double, title: String) -> Double { max(minimum, Double(title.count) * 8 + 24) }
    var plotBottom: Double { height - Self.bottom }

    /// The y coordinate of a value.
    func y(_ value: Double) -> Double {
        plotBottom - (value - yMin) / max(yMax - yMin, .leastNonzeroMagnitude) * (plotBottom - Self.top)
    }

    /// Evenly spaced round ticks from `low` (≤ 0 kept at 0) to at least `high`: the axis's end and its ticks.
    static func axis(low: Double = 0, high: Double) -> (low: Double, high: Double, ticks: [Double]) {
        // A value that is no number (a ratio to a zero baseline is infinite) gets a unit axis: a stride over NaN
        // or infinity never ends.
        guard low.isFinite, high.isFinite else { return axis(low: 0, high: 1) }
        let span = max(high - low, abs(high) * 1e-6, 1e-12)
        let raw = span / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw * 0.999 } ?? 10 * magnitude
        let start = floor(low / step) * step
        let end = ceil(high / step - 1e-9) * step
        let ticks = stride(from: start, through: end + step * 1e-6, by: step).map { $0 }
        return (start, end, ticks)
    }

    /// A tick's text: as many decimals as the step between ticks needs.
    static func tickText(_ value: Double, step: Double) -> String {
        // The fewest decimals that write every multiple of the step exactly (0.25 needs two).
        let decimals =
            (0...6).first { d in
                let scaled = step * pow(10, Double(d))
                return abs(scaled - scaled.rounded()) < 1e-6 * max(1, scaled)
            } ?? 6
        return String(format: "%.\(decimals)f", value)
    }

    /// The opening tag, background, title and both axis titles (`yTitle` rotated).
    func open(_ className: String, title: String, xTitle: String, yTitle: String) -> String {
        let w = Int(width)
        let h = Int(height)
        var svg =
            "<svg class=\"\(className)\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(w)\" height=\"\(h)\" "
            + "viewBox=\"0 0 \(w) \(h)\" font-family=\"DejaVu Sans, Arial, sans-serif\">"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(w)\" height=\"\(h)\" fill=\"#ffffff\"/>"
        svg += "<text x=\"10\" y=\"20\" font-size=\"13\" font-weight=\"bold\">\(Report.escape(title))</text>"
        svg +=
            "<text x=\"\(Self.left + plotWidth / 2)\" y=\"\(height - 8)\" font-size=\"12\" "
            + "text-anchor=\"middle\">\(Report.escape(xTitle))</text>"
        let middle = (Self.top + plotBottom) / 2
        svg +=
            "<text x=\"16\" y=\"\(middle)\" font-size=\"12\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 16 \(middle))\">\(Report.escape(yTitle))</text>"
        return svg + yAxis()
    }

    /// The y axis: its line, grid lines and tick labels, and the x axis line.
    func yAxis() -> String {
        let step = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        var svg = ""
        for tick in yTicks {
            let y = self.y(tick)
            svg +=
                "<line x1=\"\(Self.left)\" y1=\"\(y)\" x2=\"\(width - Self.right)\" y2=\"\(y)\" stroke=\"#e4e4e4\"/>"
            svg +=
                "<text x=\"\(Self.left - 6)\" y=\"\(y + 4)\" font-size=\"10\" text-anchor=\"end\">"
                + "\(Self.tickText(tick, step: step))</text>"
        }
        svg +=
            "<line x1=\"\(Self.left)\" y1=\"\(Self.top - 4)\" x2=\"\(Self.left)\" y2=\"\(plotBottom)\" "
            + "stroke=\"#444\"/>"
        svg +=
            "<line x1=\"\(Self.left)\" y1=\"\(plotBottom)\" x2=\"\(width - Self.right)\" y2=\"\(plotBottom)\" "
            + "stroke=\"#444\"/>"
        return svg
    }

    /// An x tick at `x` with up to three lines of text below the axis.
    func xTick(_ x: Double, _ lines: [String], color: String = "#222") -> String {
        var svg = "<line x1=\"\(x)\" y1=\"\(plotBottom)\" x2=\"\(x)\" y2=\"\(plotBottom + 5)\" stroke=\"#444\"/>"
        for (i, line) in lines.enumerated() {
            svg +=
                "<text x=\"\(x)\" y=\"\(plotBottom + 17 + Double(i) * 12)\" font-size=\"\(i == 0 ? 10 : 9)\" "
                + "text-anchor=\"middle\" fill=\"\(i == 0 ? "#222" : color)\">\(Report.escape(line))</text>"
        }
        return svg
    }

    /// A vertical error bar from `low` to `high` at `x`.
    func errorBar(_ x: Double, low: Double, high: Double) -> String {
        let (a, b) = (y(low), y(high))
        return "<line x1=\"\(x)\" y1=\"\(a)\" x2=\"\(x)\" y2=\"\(b)\" stroke=\"#111\" stroke-width=\"1.5\"/>"
            + "<line x1=\"\(x - 6)\" y1=\"\(a)\" x2=\"\(x + 6)\" y2=\"\(a)\" stroke=\"#111\" stroke-width=\"1.5\"/>"
            + "<line x1=\"\(x - 6)\" y1=\"\(b)\" x2=\"\(x + 6)\" y2=\"\(b)\" stroke=\"#111\" stroke-width=\"1.5\"/>"
    }

    /// A legend: one coloured mark and text a line, at the top left of the plot.
    /// `mark`: "line", "dashed" or "open" (a hollow circle).
    func legend(_ entries: [(color: String, text: String, mark: String)]) -> String {
        var svg = ""
        for (i, entry) in entries.enumerated() {
            let y = Self.top + 4 + Double(i) * 14
            let x = Self.left + 12
            if entry.mark == "open" {
                svg +=
                    "<circle cx=\"\(x + 11)\" cy=\"\(y)\" r=\"5\" fill=\"#ffffff\" stroke=\"\(entry.color)\" "
                    + "stroke-width=\"1.5\"/>"
            } else {
                svg +=
                    "<line x1=\"\(x)\" y1=\"\(y)\" x2=\"\(x + 22)\" y2=\"\(y)\" stroke=\"\(entry.color)\" "
                    + "stroke-width=\"3\"\(entry.mark == "dashed" ? " stroke-dasharray=\"6 4\"" : "")/>"
            }
            svg +=
                "<text x=\"\(x + 28)\" y=\"\(y + 4)\" font-size=\"10\">\(Report.escape(entry.text))</text>"
        }
        return svg
    }
}
