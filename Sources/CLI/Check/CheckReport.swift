import Kubernetes

/// What `swiftlet check` found: checks grouped in categories, as `linkerd check` prints them.
struct CheckReport {
    enum Result: String {
        case success, warning, error
    }

    struct Check {
        var description: String
        var result: Result
        /// What went wrong (for a warning or an error).
        var error: String?
        /// What to do about it.
        var hint: String?
        /// What a passing check wants the reader to know (printed under it).
        var note: String? = nil
    }

    struct Category {
        var name: String
        var checks: [Check] = []
    }

    var categories: [Category] = []

    /// Success unless a check failed (warnings do not fail it).
    var success: Bool { self.categories.allSatisfy { $0.checks.allSatisfy { $0.result != .error } } }

    /// ✔/‼/× lines under each category's name, each failure with its error and hint, and a last verdict line.
    var text: String {
        var out = ""
        for category in self.categories {
            out += category.name + "\n" + String(repeating: "-", count: category.name.count) + "\n"
            for check in category.checks {
                let mark =
                    switch check.result {
                    case .success: "✔"
                    case .warning: "‼"
                    case .error: "×"
                    }
                out += "\(mark) \(check.description)\n"
                if let error = check.error { out += "    \(error)\n" }
                if let hint = check.hint { out += "    hint: \(hint)\n" }
                if let note = check.note { out += "    note: \(note)\n" }
            }
            out += "\n"
        }
        out += self.success ? "Status check results are ✔\n" : "Status check results are ×\n"
        return out
    }

    /// The report as JSON, in the shape of `linkerd check -o json`.
    var json: String {
        func string(_ text: String?) -> String { text.map(DocumentStream.quoted) ?? "null" }
        let categories = self.categories.map { category in
            let checks = category.checks.map { check in
                "{\"description\":\(string(check.description)),\"result\":\(string(check.result.rawValue)),"
                    + "\"error\":\(string(check.error)),\"hint\":\(string(check.hint)),\"note\":\(string(check.note))}"
            }
            return "{\"categoryName\":\(string(category.name)),\"checks\":[\(checks.joined(separator: ","))]}"
        }
        return "{\"success\":\(self.success),\"categories\":[\(categories.joined(separator: ","))]}\n"
    }
}
