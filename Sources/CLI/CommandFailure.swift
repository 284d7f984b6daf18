/// A command that ran and failed (a file that cannot be read, a cluster that cannot be reached): reported on one
/// line and exit status 1, as `kubectl` and `linkerd` do. Usage errors (a bad flag, flags that go together) stay
/// ArgumentParser's `ValidationError`: the message, the usage, and exit status 64.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { self.message }
}
