/// A viz window (`-t 1m`, `?window=30s`): seconds, at least two scrapes, or a rate has one sample and means nothing.
public enum StatWindow {
    public static func seconds(_ text: String) throws(VizError) -> Int {
        let units: [(String, Int)] = [("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        guard let (suffix, factor) = units.first(where: { text.hasSuffix($0.0) }), !text.hasSuffix("ms"),
            let number = Int(text.dropLast(suffix.count)), number > 0
        else { throw VizError(.invalidArgument, "-t \(text): a duration such as 30s, 1m or 10m") }
        let seconds = number * factor
        let least = 2 * PrometheusScrapeConfig.scrapeIntervalSeconds
        guard seconds >= least else {
            throw VizError(
                .invalidArgument,
                "-t \(text): Prometheus scrapes every \(PrometheusScrapeConfig.scrapeIntervalSeconds)s; "
                    + "a window under \(least)s holds fewer than two scrapes")
        }
        return seconds
    }
}
