/// The streams of one HTTP/2 connection that received something in the current read: at the read's end each is
/// told once (its exchange flushes what it forwarded), whatever the number of frames it got.
struct HTTP2ReadBatch<Stream: HTTP2ForwardingStream> {
    private var touched: [Stream] = []

    mutating func touch(_ stream: Stream) {
        guard !stream.touched else { return }
        stream.touched = true
        self.touched.append(stream)
    }

    mutating func end(_ each: (Stream) -> Void) {
        for stream in self.touched {
            stream.touched = false
            each(stream)
        }
        self.touched.removeAll(keepingCapacity: true)
    }
}
