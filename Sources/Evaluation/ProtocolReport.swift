import Foundation
import MotionData
import MotionRender

/// `evaluate`'s outputs besides the printed tables: the JSON document and the self-contained HTML
/// report (tables, then real beside generated motion for a few captions, each in the 3D viewer).
public enum ProtocolReport {
    /// The JSON file: which model and evaluator, and every table with every metric's repeats.
    public struct JSONBody: Codable, Sendable {
        public var model: String?
        public var evaluator: String
        public var tables: [ProtocolTable]
        public init(model: String?, evaluator: String, tables: [ProtocolTable]) {
            self.model = model; self.evaluator = evaluator; self.tables = tables
        }
    }

    /// One task's part of the page: its table as HTML and its examples side by side. Each viewer is
    /// the `render --html` page in an `iframe srcdoc`, so the report stays one file with no network.
    public static func section(_ table: ProtocolTable, examples: [(caption: String, real: Motion, generated: Motion?)]) -> String {
        var h = "<h2>\(HTMLViewer.escape(table.task))</h2>\n<table><tr><th></th>" + table.columns.map { "<th>\(HTMLViewer.escape($0.heading))</th>" }.joined() + "</tr>\n"
        for r in table.rows {
            h += "<tr><th>\(HTMLViewer.escape(r.name))</th>" + table.columns.map { m -> String in
                guard let v = r[m], v.mean.isFinite else { return "<td>-</td>" }
                return String(format: "<td>%.3f", v.mean) + (table.repeats > 1 ? String(format: " <small>±%.3f</small>", v.interval) : "") + "</td>"
            }.joined() + "</tr>\n"
        }
        h += "</table>\n<p class=\"n\">N = \(table.clips) clips (\(HTMLViewer.escape(table.split)) split), pools of \(table.poolSize), \(table.vectorsPerSide) vectors a side, \(table.repeats) repeats from seed \(table.seed); evaluator: \(HTMLViewer.escape(table.evaluator))</p>\n"
        h += "<ul>" + table.notes.map { "<li>\(HTMLViewer.escape($0))</li>" }.joined() + "</ul>\n"
        for e in examples {
            h += "<div class=\"pair\"><p>\(HTMLViewer.escape(e.caption))</p><div class=\"views\">"
            h += "<figure><iframe srcdoc=\"\(HTMLViewer.escape(HTMLViewer.page(e.real, title: "real: " + e.caption)))\"></iframe><figcaption>real</figcaption></figure>"
            if let g = e.generated {
                h += "<figure><iframe srcdoc=\"\(HTMLViewer.escape(HTMLViewer.page(g, title: table.task + ": " + e.caption)))\"></iframe><figcaption>\(HTMLViewer.escape(table.task))</figcaption></figure>"
            }
            h += "</div></div>\n"
        }
        return h
    }

    /// The whole page.
    public static func page(title: String, sections: [String]) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(HTMLViewer.escape(title))</title>
        <style>body{font:14px sans-serif;margin:16px;color:#222;background:#fafaf7}table{border-collapse:collapse}
        td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child{text-align:left}
        .views{display:flex;gap:8px}figure{margin:0;flex:1}iframe{width:100%;height:360px;border:1px solid #ccc}.n{color:#555}</style></head>
        <body><h1>\(HTMLViewer.escape(title))</h1>
        \(sections.joined(separator: "\n"))
        </body></html>
        """
    }
}
